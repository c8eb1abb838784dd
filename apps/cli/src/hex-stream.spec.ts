import { HexStreamDecoder } from './hex-stream';

describe('HexStreamDecoder', () => {
  it('joins digits across chunks and whitespace, including a byte split between chunks', () => {
    const decoder = new HexStreamDecoder();
    const bytes = [decoder.push('FB fb\nF'), decoder.push('b F0 1'), decoder.push('1\r\n')];
    decoder.end();
    expect(Buffer.concat(bytes)).toEqual(Buffer.from('FBFBFBF011', 'hex'));
  });

  it('names the position of a non-hex character across chunks', () => {
    const decoder = new HexStreamDecoder();
    decoder.push('FBFB\n');
    expect(decoder.push('FB 1G0')).toEqual(Buffer.from([0xfb]));
    expect(() => decoder.end()).toThrow('input is not hex: "G" at character 10');
    expect(() => decoder.push('00')).toThrow(/not hex/);
  });

  it('rejects a stream ending in half a byte', () => {
    const decoder = new HexStreamDecoder();
    decoder.push('FBF');
    expect(() => decoder.end()).toThrow(/half a byte/);
  });
});
