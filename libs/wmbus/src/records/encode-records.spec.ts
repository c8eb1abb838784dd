import { encodeRecords } from './encode-records';
import type { RecordSpec } from './encode-records';
import { parseRecords } from './parse-records';

describe('encodeRecords → parseRecords round trips', () => {
  const specs: RecordSpec[] = [
    { dif: 0x02, vif: 0xff, vifes: [0x20], value: 0x71 },
    { dif: 0x04, vif: 0x13, value: 6.408 },
    { dif: 0x44, vif: 0x13, value: 6.408 },
    { dif: 0x42, vif: 0x6c, value: '2020-10-01' },
    { dif: 0x04, vif: 0x6d, value: '2021-12-31 23:59' },
    { dif: 0x06, vif: 0x6d, value: '2022-01-21 01:26:44' },
    { dif: 0x61, vif: 0x5b, value: 127 },
    { dif: 0x92, difes: [0x01], vif: 0x3b, value: 1.234 },
    { dif: 0x01, vif: 0x13, value: -0.128 },
    { dif: 0x03, vif: 0x06, value: -8388608 },
    { dif: 0x06, vif: 0x03, value: 140737488355.327 },
    { dif: 0x07, vif: 0x13, value: 123456789012.345 },
    { dif: 0x0c, vif: 0x06, value: 12345678 },
    { dif: 0x0c, vif: 0x13, value: -2345.678 },
    { dif: 0x0e, vif: 0x03, value: 123456789.012 },
    { dif: 0x09, vif: 0xfd, vifes: [0x08], value: 42 },
    { dif: 0x05, vif: 0x5b, value: 21.5 },
    { dif: 0x05, vif: 0x13, value: 1.25 },
    { dif: 0x0d, vif: 0xfd, vifes: [0x0e], value: 'B1.28.0' },
    { dif: 0x0d, vif: 0x13, value: -12.345 },
    { dif: 0x0c, vif: 0x78, value: '00345678' },
    { dif: 0x84, difes: [0xc0, 0x11], vif: 0xa9, vifes: [0xfc, 0x01], value: 2.5 },
    { dif: 0x04, vif: 0x93, vifes: [0xfd, 0x74], value: 0.05 },
    { dif: 0x02, vif: 0x21, value: 1.5 },
    { dif: 0x02, vif: 0x46, value: 30 },
    { dif: 0x02, vif: 0xfd, vifes: [0x49], value: 230 },
    { dif: 0x02, vif: 0x7c, vifes: [3, 0x61, 0x50, 0x68], value: 1000 },
    { dif: 0x08, vif: 0x13 },
    { dif: 0x2f, vif: 0 },
    { dif: 0x04, vif: 0x13, raw: Buffer.from('FFFFFFFF', 'hex') },
    { dif: 0x0f, vif: 0, value: 'AABBCC' },
  ];

  it('reproduces every value, with keys and headers as built', () => {
    const apl = encodeRecords(specs);
    const result = parseRecords(apl);
    expect(result.error).toBeUndefined();
    const expected = specs.filter((s) => s.dif !== 0x2f);
    expect(result.records).toHaveLength(expected.length);
    result.records.forEach((record, i) => {
      const spec = expected[i];
      if (spec.raw !== undefined) expect(record.raw).toBe(spec.raw.toString('hex').toUpperCase());
      else if (spec.value === undefined) expect(record.value).toBeNull();
      else expect(record.value).toBe(spec.value);
    });
    expect(result.records.map((r) => r.key).slice(0, 3)).toEqual(['02FF20', '0413', '4413']);
    expect(result.records[21]).toMatchObject({ storage: 32, tariff: 4, subunit: 1, combinable: [0x7c01] });
    expect(result.records[26].unit).toBe('hPa');
  });

  it('produces the exact wire bytes of the spec example', () => {
    const apl = encodeRecords(specs.slice(0, 3).concat([specs[6], { dif: 0x61, vif: 0x67, value: 19 }]));
    expect(apl.toString('hex').toUpperCase()).toBe('02FF20710004130819000044130819000061' + '5B7F616713');
  });

  it('compact: the format string parsed against data-only bytes gives the same records', () => {
    const full = encodeRecords(specs.slice(0, 8));
    const fullRecords = parseRecords(full).records;
    const format = Buffer.from(fullRecords.map((r) => r.header).join(''), 'hex');
    const data = Buffer.from(fullRecords.map((r) => r.raw).join(''), 'hex');
    const compact = parseRecords(data, { format });
    expect(compact.error).toBeUndefined();
    expect(compact.rebuilt?.equals(full)).toBe(true);
    expect(compact.records.map((r) => [r.key, r.value])).toEqual(fullRecords.map((r) => [r.key, r.value]));
  });

  it('refuses values that do not fit', () => {
    expect(() => encodeRecords([{ dif: 0x09, vif: 0x13, value: 0.1 }])).toThrow(/BCD digits/);
    expect(() => encodeRecords([{ dif: 0x02, vif: 0x6c, value: '1999-01-01' }])).toThrow(/2000/);
    expect(() => encodeRecords([{ dif: 0x04, vif: 0x13 }])).toThrow(/value or raw/);
    expect(() => encodeRecords([{ dif: 0x84, vif: 0x13 }])).toThrow(/cannot encode/);
  });
});
