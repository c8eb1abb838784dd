import { parseKeyFile } from './key-file';

const KEY = '28F64A24988064A079AA2C807D6102AE';

describe('parseKeyFile', () => {
  it('reads rows with an optional header, comments and blank lines; ids are case-insensitive', () => {
    const keys = parseKeyFile(
      `meter_id,key_hex\n# flat 4B\n\n76348799,${KEY}\r\n  0a0b0c0d , ${KEY.toLowerCase()}\n`,
      'k.csv',
    );
    expect([...keys.keys()]).toEqual(['76348799', '0A0B0C0D']);
    expect(keys.get('0A0B0C0D')).toEqual(Buffer.from(KEY, 'hex'));
  });

  it('accepts a file without a header line', () => {
    expect(parseKeyFile(`76348799,${KEY}`, 'k.csv').size).toBe(1);
  });

  it.each([
    [`76348799;${KEY}`, /k\.csv line 2: expected 2 columns "meter_id,key_hex", found 1/],
    [`7634879,${KEY}`, /line 2: meter_id "7634879" is not 8 hex digits/],
    [
      '76348799,28F64A24988064A079AA2C807D6102',
      /line 2: key for meter 76348799 is not 32 hex digits \(AES-128\); it has 30 characters/,
    ],
    [`76348799,${KEY},extra`, /line 2: expected 2 columns/],
    [`meter_id,key_hex`, /line 2: meter_id "meter_id" is not 8 hex digits/],
  ])('rejects bad row %j naming the line', (row, message) => {
    expect(() => parseKeyFile(`meter_id,key_hex\n${row}\n`, 'k.csv')).toThrow(message);
  });

  it('rejects a second key for the same meter, naming both lines', () => {
    expect(() => parseKeyFile(`76348799,${KEY}\n\n76348799,${KEY}`, 'k.csv')).toThrow(
      /line 3: meter 76348799 already has a key on line 1/,
    );
  });

  it('never echoes key material in its errors', () => {
    const secret = 'ZZ' + KEY.slice(2);
    expect(() => parseKeyFile(`76348799,${secret}`, 'k.csv')).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining(KEY.slice(2)) }),
    );
  });
});
