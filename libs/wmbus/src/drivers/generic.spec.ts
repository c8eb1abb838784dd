import { encodeRecords, parseRecords } from '../records';
import type { DataRecord, TelegramHeader } from '../types';
import { jsonNumber } from './fields';
import { genericFieldName } from './generic';
import { applyDriver, readingsOf } from './registry';

const HEADER: TelegramHeader = {
  frameFormat: 'none',
  length: 0,
  cField: 0x44,
  manufacturer: 'XYZ',
  manufacturerCode: 0x6339,
  dllId: '12345678',
  id: '12345678',
  version: 1,
  deviceType: 0x04,
  medium: 'heat',
};

function record(patch: Partial<DataRecord>): DataRecord {
  return {
    key: '0413',
    header: '0413',
    offset: 0,
    function: 'instantaneous',
    storage: 0,
    tariff: 0,
    subunit: 0,
    quantity: 'volume',
    unit: 'm3',
    value: 1,
    raw: '',
    combinable: [],
    ...patch,
  };
}

describe('genericFieldName', () => {
  it.each([
    ['instantaneous volume, storage 0', {}, 'total_m3'],
    ['instantaneous volume, storage 1', { storage: 1 }, 'target_m3'],
    ['instantaneous volume, storage 5', { storage: 5 }, 'volume_storage_5_m3'],
    ['energy, storage 0', { quantity: 'energy', unit: 'kwh' }, 'total_energy_consumption_kwh'],
    [
      'energy at the due date',
      { quantity: 'energy', unit: 'kwh', storage: 1 },
      'target_energy_consumption_kwh',
    ],
    [
      'energy tariff 2',
      { quantity: 'energy', unit: 'kwh', tariff: 2 },
      'total_energy_consumption_tariff_2_kwh',
    ],
    ['date, storage 1', { quantity: 'date', unit: 'date', storage: 1 }, 'target_date'],
    ['datetime, storage 0', { quantity: 'datetime', unit: 'datetime' }, 'meter_datetime'],
    [
      'maximum flow, storage 1',
      { quantity: 'volume_flow', unit: 'm3h', function: 'maximum', storage: 1 },
      'max_volume_flow_storage_1_m3h',
    ],
    ['maximum volume is not "total"', { function: 'maximum' }, 'max_volume_m3'],
    ['subunit 1', { quantity: 'power', unit: 'kw', subunit: 1 }, 'power_subunit_1_kw'],
    [
      'forward flow temperature',
      { quantity: 'flow_temperature', unit: 'c', combinable: [0x3b] },
      'flow_temperature_vife_3b_c',
    ],
    ['text', { quantity: 'fabrication_number', unit: '', value: '12345678' }, 'fabrication_number'],
    [
      'manufacturer-specific',
      { quantity: 'manufacturer_specific', unit: '', key: '02FF20' },
      'record_02ff20',
    ],
  ] as Array<[string, Partial<DataRecord>, string]>)('%s → %s', (_label, patch, name) => {
    expect(genericFieldName(record(patch))).toBe(name);
  });
});

describe('generic driver', () => {
  it('produces header fields plus one uniquely named field per record', () => {
    const records = [
      record({ value: 12.3456789 }),
      record({ key: '0413_2', value: 7 }),
      record({
        key: '426C',
        header: '426C',
        quantity: 'date',
        unit: 'date',
        storage: 1,
        value: '2024-01-31',
      }),
      record({ key: '0F', header: '0F', quantity: 'manufacturer_specific', unit: '', value: 'CAFE' }),
      record({ key: '0259', header: '0259', quantity: 'flow_temperature', unit: 'c', value: null }),
    ];
    const result = applyDriver(HEADER, records);
    expect(result.driver).toBe('generic');
    expect(result.fields).toEqual({
      _: 'telegram',
      media: 'heat',
      meter: 'generic',
      name: '',
      id: '12345678',
      total_m3: 12.345679,
      total_m3_2: 7,
      target_date: '2024-01-31',
      record_0f: 'CAFE',
      flow_temperature_c: null,
    });
  });

  it('decodes records from the real parser into stable names and numeric readings', () => {
    const apl = encodeRecords([
      { dif: 0x04, vif: 0x06, value: 1234 },
      { dif: 0x04, vif: 0x13, value: 5.678 },
      { dif: 0x02, vif: 0x59, value: 45.12 },
    ]);
    const { records } = parseRecords(apl);
    expect(applyDriver(HEADER, records).fields).toMatchObject({
      total_energy_consumption_kwh: 1234,
      total_m3: 5.678,
      flow_temperature_c: 45.12,
    });
    expect(readingsOf(HEADER, records).map((r) => [r.name, r.value])).toEqual([
      ['total_energy_consumption_kwh', 1234],
      ['total_m3', 5.678],
      ['flow_temperature_c', 45.12],
    ]);
  });

  it('rounds values to six decimals and never emits negative zero', () => {
    const result = applyDriver(HEADER, [
      record({ value: -0.0000001 }),
      record({ key: '0413_2', value: 0.1 + 0.2 }),
    ]);
    expect(Object.is(result.fields.total_m3, 0)).toBe(true);
    expect(result.fields.total_m3_2).toBe(0.3);
  });
});

describe('jsonNumber', () => {
  it('agrees with six-decimal rounding of the exact binary value, half-millionths included', () => {
    const samples = [
      6.408,
      20.015,
      0.317,
      43.108,
      0.1 + 0.2,
      1e-7,
      5e-7,
      1.0000005,
      2.0000015,
      123456.7890125,
      -3.0000005,
      457.579333333,
      1e15 + 0.5,
      0.0000004999999,
    ];
    for (let i = 0; i < 2000; i++) samples.push((i * 7919) / 2000000, -(i * 104729) / 3e7);
    for (const value of samples) expect(jsonNumber(value)).toBe(Number(value.toFixed(6)) || 0);
  });

  it('maps non-finite values to null and negative zero to 0', () => {
    expect(jsonNumber(NaN)).toBeNull();
    expect(jsonNumber(Infinity)).toBeNull();
    expect(Object.is(jsonNumber(-0), 0)).toBe(true);
    expect(Object.is(jsonNumber(-1e-9), 0)).toBe(true);
  });
});
