import {
  findFrameStart,
  idFromWire,
  idToWire,
  manufacturerFromCode,
  manufacturerToCode,
  parseDll,
} from './dll';
import { parseHex } from './hex';
import { mediumName } from './medium';

describe('DLL', () => {
  it('decodes manufacturer codes as in spec §2 (KAM, KAW) and ignores bit 15', () => {
    expect(manufacturerFromCode(0x2c2d)).toBe('KAM');
    expect(manufacturerFromCode(0x2c37)).toBe('KAW');
    expect(manufacturerFromCode(0xac2d)).toBe('KAM');
    expect(manufacturerToCode('KAM')).toBe(0x2c2d);
    expect(() => manufacturerToCode('kam')).toThrow(RangeError);
  });

  it('prints the id reversed and keeps non-BCD nibbles as hex', () => {
    expect(idFromWire(Buffer.from('99873476', 'hex'), 0)).toBe('76348799');
    expect(idFromWire(Buffer.from('9c582421', 'hex'), 0)).toBe('2124589c');
    expect(idToWire('76348799')).toEqual(Buffer.from('99873476', 'hex'));
  });

  it('parses the Kamstrup header', () => {
    const result = parseDll(parseHex('2A442D2C998734761B168D2091D37CAC21')!);
    expect(result).toEqual({
      ok: true,
      dll: {
        length: 0x2a,
        cField: 0x44,
        manufacturerCode: 0x2c2d,
        manufacturer: 'KAM',
        id: '76348799',
        version: 0x1b,
        deviceType: 0x16,
      },
    });
    expect(mediumName(0x16)).toBe('cold water');
    expect(mediumName(0x42)).toBe('reserved');
  });

  it('rejects a C-field that is not SND_NR/SND_IR', () => {
    const result = parseDll(parseHex('2A082D2C998734761B168D')!);
    expect(result).toMatchObject({ ok: false, error: { code: 'BAD_C_FIELD', offset: 1 } });
  });

  it('finds a frame behind prepended bytes only when its L-field ends exactly at the buffer end', () => {
    const frame = parseHex('0C442D2C998734761B1678FF20')!;
    expect(findFrameStart(frame)).toBe(0);
    expect(findFrameStart(Buffer.concat([Buffer.from([0x01, 0x02]), frame]))).toBe(2);
    expect(
      findFrameStart(Buffer.concat([Buffer.from([0x01, 0x02]), frame, Buffer.from([0x00])])),
    ).toBeUndefined();
  });
});
