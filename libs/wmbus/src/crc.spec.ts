import { crc16En13757 } from './crc';

describe('crc16En13757', () => {
  it('gives the standard check value 0xC2B7 for "123456789"', () => {
    expect(crc16En13757(Buffer.from('123456789', 'ascii'))).toBe(0xc2b7);
  });

  it('computes the Kamstrup compact-frame signature of a known DIF/VIF string', () => {
    expect(crc16En13757(Buffer.from('02FF2004134413615B6167', 'hex'))).toBe(0xa8ed);
  });

  it('honours start and end', () => {
    const padded = Buffer.concat([Buffer.from([1, 2]), Buffer.from('123456789'), Buffer.from([3])]);
    expect(crc16En13757(padded, 2, 11)).toBe(0xc2b7);
  });
});
