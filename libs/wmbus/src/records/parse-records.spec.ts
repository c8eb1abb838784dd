import { crc16En13757 } from '../crc';
import { parseRecords } from './parse-records';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

function single(apl: string) {
  const result = parseRecords(hex(apl));
  expect(result.error).toBeUndefined();
  expect(result.records).toHaveLength(1);
  return result.records[0];
}

describe('DIF / DIFE (spec §5.1, §5.2)', () => {
  it.each([
    ['0413 01000000', 'instantaneous', 0, 0, 0],
    ['4413 01000000', 'instantaneous', 1, 0, 0],
    ['8101 5B 01', 'instantaneous', 2, 0, 0],
    ['9201 3B 0100', 'maximum', 2, 0, 0],
    ['A101 5B 01', 'minimum', 2, 0, 0],
    ['3413 01000000', 'error', 0, 0, 0],
    ['C410 13 01000000', 'instantaneous', 1, 1, 0],
    ['8440 13 01000000', 'instantaneous', 0, 0, 1],
    // DIFE#0 storage 0xF, tariff 3, subunit 1, DIFE#1 storage 0x1, tariff 1, subunit 1
    ['C4FF51 13 01000000', 'instantaneous', 1 + (0xf << 1) + (0x1 << 5), 3 + (1 << 2), 3],
  ])('%s → %s storage %i tariff %i subunit %i', (apl, fn, storage, tariff, subunit) => {
    const record = single(apl);
    expect(record.function).toBe(fn);
    expect(record.storage).toBe(storage);
    expect(record.tariff).toBe(tariff);
    expect(record.subunit).toBe(subunit);
    expect(record.header).toBe(apl.split(' ').slice(0, -1).join(''));
  });

  it('accepts 10 DIFEs and rejects an 11th', () => {
    const ten = parseRecords(hex('84' + '80'.repeat(9) + '00 13 01000000'));
    expect(ten.error).toBeUndefined();
    const eleven = parseRecords(hex('0413 01000000 84' + '80'.repeat(10) + '00 13 01000000'));
    expect(eleven.records).toHaveLength(1);
    expect(eleven.error).toMatchObject({ code: 'BAD_RECORD', offset: 17 });
  });

  it('skips 0x2F fillers anywhere', () => {
    const result = parseRecords(hex('2F2F 0413 01000000 2F 0213 0200 2F2F2F'));
    expect(result.error).toBeUndefined();
    expect(result.records.map((r) => [r.key, r.value, r.offset])).toEqual([
      ['0413', 0.001, 2],
      ['0213', 0.002, 9],
    ]);
  });

  it('selection for readout (0x08) and no-data (0x00) records carry no value', () => {
    const result = parseRecords(hex('0813 0013 0413 05000000'));
    expect(result.records.map((r) => [r.key, r.value, r.raw])).toEqual([
      ['0813', null, ''],
      ['0013', null, ''],
      ['0413', 0.005, '05000000'],
    ]);
  });

  it('0x0F / 0x1F swallow the rest of the APL as one manufacturer record', () => {
    for (const dif of ['0F', '1F']) {
      const result = parseRecords(hex(`0413 01000000 ${dif} 0413 AABB`));
      expect(result.error).toBeUndefined();
      expect(result.records[1]).toMatchObject({
        key: dif,
        header: dif,
        quantity: 'manufacturer_specific',
        raw: '0413AABB',
        value: '0413AABB',
      });
    }
  });

  it('gives repeated headers _2, _3 suffixes', () => {
    const result = parseRecords(hex('0213 0100 0213 0200 0213 0300 4213 0400'));
    expect(result.records.map((r) => r.key)).toEqual(['0213', '0213_2', '0213_3', '4213']);
  });
});

describe('data types', () => {
  it.each([
    ['0113 FF', -0.001],
    ['0213 0080', -32.768],
    ['0313 FFFF7F', 8388.607],
    ['0413 08190000', 6.408],
    ['0613 FFFFFFFFFF7F', 140737488355.327],
    ['0713 0100000000000000', 0.001],
    ['0913 99', 0.099],
    ['0A13 3412', 1.234],
    ['0B13 563412', 123.456],
    ['0C13 78563412', 12345.678],
    ['0C13 785634F2', -2345.678],
    ['0E13 907856341200', 1234567.89],
    ['0C13 FFFFFFFF', null],
    ['0C13 7856341A', null],
    ['0513 0000AC41', 0.0215],
    ['0D13 C2 3412', 1.234],
    ['0D13 D2 3412', -1.234],
    ['0D13 E2 3412', 4.66],
  ])('%s → %p m3', (apl, value) => {
    const record = single(apl);
    expect(record.value).toBe(value);
    expect(record.unit).toBe('m3');
  });

  it('LVAR text is reversed, LVAR float/oversized binary keep only raw bytes', () => {
    expect(single('0DFD0E 07 302E38322E3142')).toMatchObject({
      quantity: 'firmware_version',
      value: 'B1.28.0',
      unit: '',
    });
    expect(single('0D13 F4 0000AC41')).toMatchObject({ value: null, raw: 'F40000AC41' });
    expect(single('0DFD17 E8 0102030405060708')).toMatchObject({ value: null, raw: 'E80102030405060708' });
  });

  it('reserved LVAR length bytes 0xFB–0xFF stop parsing with BAD_RECORD', () => {
    const result = parseRecords(hex('0413 01000000 0D13 FB 00'));
    expect(result.records).toHaveLength(1);
    expect(result.error).toMatchObject({ code: 'BAD_RECORD', offset: 8 });
  });

  it('dates: G, F and I by data length', () => {
    expect(single('426C 812A')).toMatchObject({
      quantity: 'date',
      unit: 'date',
      value: '2020-10-01',
      storage: 1,
    });
    expect(single('046D 3B17BF2C')).toMatchObject({ unit: 'datetime', value: '2021-12-31 23:59' });
    expect(single('066D 2C1A01D52100')).toMatchObject({ unit: 'datetime', value: '2022-01-21 01:26:44' });
    expect(single('426C FFFF').value).toBeNull();
  });

  it('fabrication number keeps BCD leading zeros', () => {
    expect(single('0C78 78563400')).toMatchObject({ quantity: 'fabrication_number', value: '00345678' });
  });
});

describe('VIF tables (spec §5.3, §5.5)', () => {
  it.each([
    ['0406 E8030000', 'energy', 'kwh', 1000],
    ['0403 E8030000', 'energy', 'kwh', 1],
    ['040E 01000000', 'energy', 'mj', 1],
    ['0415 01000000', 'volume', 'm3', 0.1],
    ['041B 01000000', 'mass', 'kg', 1],
    ['0422 05000000', 'on_time', 'h', 5],
    ['0420 100E0000', 'on_time', 'h', 1],
    ['0423 02000000', 'on_time', 'h', 48],
    ['0425 5A000000', 'operating_time', 'h', 1.5],
    ['042B E8030000', 'power', 'kw', 1],
    ['0433 01000000', 'power', 'mjh', 0.001],
    ['023B 7B00', 'volume_flow', 'm3h', 0.123],
    ['0246 0500', 'volume_flow', 'm3h', 30],
    ['024E 0100', 'volume_flow', 'm3h', 3.6],
    ['025A 0301', 'flow_temperature', 'c', 25.9],
    ['025E 0301', 'return_temperature', 'c', 25.9],
    ['0261 0301', 'temperature_difference', 'k', 2.59],
    ['0265 0301', 'external_temperature', 'c', 2.59],
    ['026A 0301', 'pressure', 'bar', 25.9],
    ['026E 0301', 'heat_cost_allocation', 'hca', 259],
    ['0274 3C00', 'actuality_duration', 'h', 1 / 60],
    ['04FB00 01000000', 'energy', 'kwh', 100],
    ['04FB01 01000000', 'energy', 'kwh', 1000],
    ['04FB09 01000000', 'energy', 'mj', 1000],
    ['02FB1A 9001', 'relative_humidity', 'rh', 40],
    ['02FD49 E600', 'voltage', 'v', 230],
    ['02FD59 0500', 'current', 'a', 0.005],
    ['02FD74 6E01', 'remaining_battery_life', 'd', 366],
    ['02FD08 1100', 'access_number', 'counter', 17],
    ['02FD17 0400', 'error_flags', '', 4],
    ['02FD60 0300', 'reset_counter', 'counter', 3],
    ['02EF05 0300', 'reserved', '', 3],
  ])('%s → %s %s %p', (apl, quantity, unit, value) => {
    const record = single(apl);
    expect(record.quantity).toBe(quantity);
    expect(record.unit).toBe(unit);
    expect(record.value).toBeCloseTo(value as number, 12);
  });

  it('mass flow is reported in kg/h', () => {
    expect(single('0253 0100')).toMatchObject({ quantity: 'mass_flow', unit: 'kgh', value: 1 });
  });

  it('manufacturer VIF keeps its code in the key, unscaled integer value', () => {
    expect(single('02FF20 7100')).toMatchObject({
      key: '02FF20',
      quantity: 'manufacturer_specific',
      value: 0x71,
      combinable: [],
    });
    expect(single('04FFA015 00000000')).toMatchObject({ key: '04FFA015', combinable: [0x15] });
  });

  it('combinable VIFEs: forward flow, 0x7C/0x7F two-byte forms, multiplicative corrections', () => {
    expect(single('0293 3B 0100')).toMatchObject({ quantity: 'volume', combinable: [0x3b], value: 0.001 });
    expect(single('8101E7FF0F 05')).toMatchObject({
      key: '8101E7FF0F',
      combinable: [0x7f0f],
      value: 5,
      storage: 2,
    });
    expect(single('04A9FC01 0A000000')).toMatchObject({
      quantity: 'power',
      combinable: [0x7c01],
      value: 0.0001,
    });
    expect(single('0493 74 05000000')).toMatchObject({ combinable: [0x74], value: 0.00005 });
    expect(single('0493 FD 74 05000000')).toMatchObject({ combinable: [0x7d, 0x74], value: 0.05 });
    expect(single('0493 77 05000000')).toMatchObject({ value: 0.05 });
  });

  it('plain-text VIF carries its unit string after the VIFEs', () => {
    // VIF 0x7C, length 3, "hPa" reversed on the wire
    expect(single('027C 03 615068 E803')).toMatchObject({
      quantity: 'plain_text_unit',
      unit: 'hPa',
      value: 1000,
      header: '027C03615068',
    });
  });

  it('any-VIF 0x7E is returned unscaled', () => {
    expect(single('027E 0A00')).toMatchObject({ quantity: 'any', value: 10 });
  });

  it('rejects an extension VIF without a code and an 11th VIFE', () => {
    expect(parseRecords(hex('027B 0100')).error).toMatchObject({ code: 'BAD_RECORD', offset: 1 });
    const tooMany = parseRecords(hex('0293' + 'BB'.repeat(10) + '3B 0100'));
    expect(tooMany.error).toMatchObject({ code: 'BAD_RECORD' });
  });
});

describe('bounds', () => {
  const full = '02FF20 7100 0413 08190000 4413 08190000 615B 7F 6167 13';
  const bytes = hex(full);

  it('decodes the Kamstrup MULTICAL 21 full frame of spec §7.2', () => {
    const result = parseRecords(bytes);
    expect(result.error).toBeUndefined();
    expect(result.records.map((r) => [r.key, r.quantity, r.value, r.unit])).toEqual([
      ['02FF20', 'manufacturer_specific', 0x71, ''],
      ['0413', 'volume', 6.408, 'm3'],
      ['4413', 'volume', 6.408, 'm3'],
      ['615B', 'flow_temperature', 127, 'c'],
      ['6167', 'external_temperature', 19, 'c'],
    ]);
  });

  it('every truncation returns the records before it and a TRUNCATED error, never throws', () => {
    const recordEnds = [5, 11, 17, 20, 23];
    for (let cut = 1; cut < bytes.length; cut++) {
      const result = parseRecords(bytes.subarray(0, cut));
      const complete = recordEnds.filter((end) => end <= cut).length;
      expect(result.records).toHaveLength(complete);
      if (recordEnds.includes(cut)) expect(result.error).toBeUndefined();
      else expect(result.error?.code).toBe('TRUNCATED');
    }
  });

  it('survives random garbage without throwing or looping', () => {
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed & 0xff;
    };
    for (let i = 0; i < 2000; i++) {
      const garbage = Buffer.from(Array.from({ length: 1 + (random() % 64) }, random));
      const result = parseRecords(garbage);
      for (const record of result.records) expect(record.offset).toBeLessThan(garbage.length);
      if (result.error) expect(['TRUNCATED', 'BAD_RECORD']).toContain(result.error.code);
    }
  });
});

describe('compact frames (spec §6)', () => {
  const format = hex('02FF20 0413 4413 615B 6167');

  it('takes headers from the format, data from the APL, and rebuilds the full frame', () => {
    const data = hex('7100 09190000 09190000 7F 16');
    const result = parseRecords(data, { format });
    expect(result.error).toBeUndefined();
    expect(result.records.map((r) => [r.key, r.value])).toEqual([
      ['02FF20', 0x71],
      ['0413', 6.409],
      ['4413', 6.409],
      ['615B', 127],
      ['6167', 22],
    ]);
    expect(result.rebuilt?.toString('hex').toUpperCase()).toBe(
      '02FF207100041309190000441309190000615B7F616716',
    );
    // The full-frame CRC carried by the compact frame (E4 75 on the wire) matches the rebuilt APL.
    expect(crc16En13757(result.rebuilt!)).toBe(0x75e4);
    expect(crc16En13757(format)).toBe(0xa8ed);
  });

  it('reports truncated compact data and tolerates only 0x2F padding after the last value', () => {
    expect(parseRecords(hex('7100 09190000 0919'), { format }).error).toMatchObject({
      code: 'TRUNCATED',
      offset: 6,
    });
    expect(parseRecords(hex('7100 09190000 09190000 7F 16 2F2F'), { format }).error).toBeUndefined();
    expect(parseRecords(hex('7100 09190000 09190000 7F 16 01'), { format }).error).toMatchObject({
      code: 'BAD_RECORD',
      offset: 12,
    });
  });
});
