import {
  readBcd,
  readBcdDigits,
  readDateG,
  readDateTimeF,
  readDateTimeI,
  readReal32,
  readReversedAscii,
  readSignedInt,
  readUnsignedInt,
  scaleDecimal,
} from './values';

const hex = (text: string): Buffer => Buffer.from(text, 'hex');

describe('integers', () => {
  it.each([
    ['7F', 1, 127],
    ['80', 1, -128],
    ['FFFF', 2, -1],
    ['3412', 2, 0x1234],
    ['FFFF7F', 3, 0x7fffff],
    ['000080', 3, -0x800000],
    ['08190000', 4, 6408],
    ['FFFFFFFF', 4, -1],
    ['010000000080', 6, -(2 ** 47) + 1],
    ['FFFFFFFFFF7F', 6, 2 ** 47 - 1],
    ['0100000000000000', 8, 1],
    ['FEFFFFFFFFFFFFFF', 8, -2],
    ['FFFFFFFFFFFF1F00', 8, Number.MAX_SAFE_INTEGER],
    ['010000000000E0FF', 8, Number.MIN_SAFE_INTEGER],
  ])('%s (%i bytes) → %d', (bytes, length, expected) => {
    expect(readSignedInt(hex(bytes), 0, length)).toBe(expected);
  });

  it('reads unsigned values of 1–8 bytes exactly', () => {
    expect(readUnsignedInt(hex('FF'), 0, 1)).toBe(255);
    expect(readUnsignedInt(hex('FFFFFFFF'), 0, 4)).toBe(0xffffffff);
    expect(readUnsignedInt(hex('FFFFFFFFFF1F'), 0, 6)).toBe(2 ** 45 - 1);
    expect(readUnsignedInt(hex('0000000000010000'), 0, 8)).toBe(2 ** 40);
  });
});

describe('BCD', () => {
  it.each([
    ['12', 12],
    ['7856', 5678],
    ['563412', 123456],
    ['78563412', 12345678],
    ['907856341200', 1234567890],
    ['999999999999', 999999999999],
    ['00000000', 0],
  ])('%s → %d', (bytes, expected) => {
    expect(readBcd(hex(bytes), 0, bytes.length / 2)).toBe(expected);
  });

  it('reads F in the top nibble as a minus sign', () => {
    expect(readBcd(hex('3412F0'), 0, 3)).toBe(-1234);
    expect(readBcd(hex('25F1'), 0, 2)).toBe(-125);
    expect(readBcd(hex('F9'), 0, 1)).toBe(-9);
  });

  it('treats all-F as "no value" and other non-decimal nibbles as invalid', () => {
    expect(readBcd(hex('FFFFFFFF'), 0, 4)).toBeNull();
    expect(readBcd(hex('FF'), 0, 1)).toBeNull();
    expect(readBcd(hex('1A000000'), 0, 4)).toBeNull();
    expect(readBcd(hex('0000B000'), 0, 4)).toBeNull();
    expect(readBcd(hex('F00000F0'), 0, 4)).toBeNull();
  });

  it('keeps leading zeros as a digit string', () => {
    expect(readBcdDigits(hex('78563400'), 0, 4)).toBe('00345678');
    expect(readBcdDigits(hex('7856340A'), 0, 4)).toBeNull();
  });
});

describe('real32', () => {
  it('decodes IEEE-754 single little-endian and rejects NaN/infinity', () => {
    expect(readReal32(hex('0000AC41'), 0)).toBe(21.5);
    expect(readReal32(hex('0000C0FF'), 0)).toBeNull();
    expect(readReal32(hex('0000807F'), 0)).toBeNull();
  });
});

describe('dates (spec §5.6)', () => {
  it('type G uses the 7-bit year + 2000 rule', () => {
    expect(readDateG(hex('812A'), 0)).toBe('2020-10-01');
    expect(readDateG(hex('0000'), 0)).toBe('2000-00-00');
    expect(readDateG(hex('FFFF'), 0)).toBeNull();
    expect(readDateG(hex('E1F1'), 0)).toBe('2127-01-01');
    expect(readDateG(hex('3F1D'), 0)).toBeNull();
  });

  it('type F adds HH:MM and ignores the flag bits', () => {
    // minute 0x3B=59 with invalid flag 0x80, hour 23 with summer-time bit 0x80, 2021-12-31
    expect(readDateTimeF(hex('BB97BF2C'), 0)).toBe('2021-12-31 23:59');
    expect(readDateTimeF(hex('00000000'), 0)).toBe('2000-00-00 00:00');
    expect(readDateTimeF(hex('FFFFFFFF'), 0)).toBeNull();
  });

  it('type I adds seconds', () => {
    // 44 s, 26 min, 01 h, 2022-01-21, then the day-of-week/week byte type I carries
    expect(readDateTimeI(hex('2C1A01D52100'), 0)).toBe('2022-01-21 01:26:44');
    expect(readDateTimeI(hex('000000FFFF00'), 0)).toBeNull();
  });
});

describe('helpers', () => {
  it('reverses LVAR text (last character first on the wire)', () => {
    expect(readReversedAscii(hex('302E38322E3142'), 0, 7)).toBe('B1.28.0');
  });

  it('scales decimals with one rounding step', () => {
    expect(scaleDecimal(6408, -3)).toBe(6.408);
    expect(scaleDecimal(1, -6)).toBe(0.000001);
    expect(scaleDecimal(123, 2)).toBe(12300);
    expect(scaleDecimal(-5, -1)).toBe(-0.5);
  });
});
