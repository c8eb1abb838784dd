import * as fs from 'node:fs';
import * as path from 'node:path';
import { CompactFormatStore } from '../compact';
import { parseRecords } from '../records';
import type { DataRecord, FieldValue, TelegramHeader } from '../types';
import { errorFlagTokens, infoCodeHistory, infoCodeTokens } from './kamwater';
import { applyDriver, driverFor, readingsOf } from './registry';
import { joinStatus, tplStatusTokens } from './status';

const VECTORS = path.resolve(__dirname, '../../../..', '../shared/wmbus/vectors.jsonl');

interface Vector {
  driver: string;
  name: string;
  key: string | null;
  telegram: string;
  expected: Record<string, FieldValue>;
  header: { tpl_ci?: string };
}

/**
 * Header of an unencrypted Kamstrup telegram, read directly from the fixed DLL positions (the layer
 * parser is tested elsewhere; this keeps the driver tests about the driver).
 */
function kamstrupHeader(telegram: Buffer): TelegramHeader {
  const code = telegram.readUInt16LE(2);
  const manufacturer = String.fromCharCode(
    ((code >> 10) & 31) + 64,
    ((code >> 5) & 31) + 64,
    (code & 31) + 64,
  );
  const id = Buffer.from(telegram.subarray(4, 8)).reverse().toString('hex');
  const deviceType = telegram[9];
  return {
    frameFormat: 'none',
    length: telegram[0],
    cField: telegram[1],
    manufacturer,
    manufacturerCode: code,
    dllId: id,
    id,
    version: telegram[8],
    deviceType,
    medium: deviceType === 0x16 ? 'cold water' : 'warm water',
  };
}

/** DLL (10) + ELL II (CI, CC, ACC, SN×4, CRC×2) precede the TPL CI in every Kamstrup vector. */
const TPL_CI_OFFSET = 19;

function recordsOf(telegram: Buffer, store: CompactFormatStore, header: TelegramHeader): DataRecord[] {
  const ci = telegram[TPL_CI_OFFSET];
  if (ci === 0x78) return parseRecords(telegram.subarray(TPL_CI_OFFSET + 1)).records;
  const signature = telegram.readUInt16LE(TPL_CI_OFFSET + 1);
  const format = store.lookup(header.manufacturer, header.deviceType, signature);
  if (!format) throw new Error(`no format for signature ${signature.toString(16)}`);
  return parseRecords(telegram.subarray(TPL_CI_OFFSET + 5), { format }).records;
}

const plaintextVectors: Vector[] = fs
  .readFileSync(VECTORS, 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as Vector)
  .filter((v) => v.driver === 'kamwater' && v.key === null && v.header.tpl_ci !== undefined);

function withoutVolatile(fields: Record<string, FieldValue>): Record<string, FieldValue> {
  const { timestamp: _t, name: _n, device: _d, rssi_dbm: _r, ...rest } = fields;
  return rest;
}

describe('kamwater driver on the plaintext Kamstrup vectors', () => {
  const store = CompactFormatStore.withKnownFormats();

  it('covers full and compact frames of MULTICAL 21 and flowIQ 2200 meters', () => {
    expect(plaintextVectors).toHaveLength(8);
  });

  it.each(plaintextVectors.map((v) => [`${v.name} CI ${v.header.tpl_ci}`, v] as const))(
    '%s gives exactly the wmbusmeters fields',
    (_label, vector) => {
      const telegram = Buffer.from(vector.telegram, 'hex');
      const header = kamstrupHeader(telegram);
      const result = applyDriver(header, recordsOf(telegram, store, header));
      expect(result.driver).toBe('kamwater');
      expect(result.fields.name).toBe('');
      expect(withoutVolatile(result.fields)).toEqual(withoutVolatile(vector.expected));
    },
  );
});

describe('kamwater selection', () => {
  const base = kamstrupHeader(Buffer.from('2A442D2C998734761B16', 'hex'));

  it.each([
    ['MULTICAL 21 cold', 'kamwater', { manufacturer: 'KAM', version: 0x1b, deviceType: 0x16 }],
    ['MULTICAL 21 warm', 'kamwater', { manufacturer: 'KAM', version: 0x1b, deviceType: 0x06 }],
    ['flowIQ 2101 (version 0x1F)', 'kamwater', { manufacturer: 'KAM', version: 0x1f, deviceType: 0x16 }],
    [
      'MULTICAL 21 with an unlisted version',
      'kamwater',
      { manufacturer: 'KAM', version: 0x1a, deviceType: 0x16 },
    ],
    ['KWM 2230 warm', 'kamwater', { manufacturer: 'KAW', version: 0x42, deviceType: 0x06 }],
    ['Kamstrup heat meter', 'generic', { manufacturer: 'KAM', version: 0x30, deviceType: 0x04 }],
    ['another maker water meter', 'generic', { manufacturer: 'APA', version: 0x05, deviceType: 0x07 }],
  ])('%s → %s', (_label, driver, patch) => {
    expect(driverFor({ ...base, ...patch }).name).toBe(driver);
  });
});

/** A minimal parsed record for status tests: only key/header/raw matter to the status logic. */
function statusRecord(header: string, raw: string): DataRecord {
  return {
    key: header,
    header,
    offset: 0,
    function: 'instantaneous',
    storage: 0,
    tariff: 0,
    subunit: 0,
    quantity: 'manufacturer_specific',
    unit: '',
    value: Buffer.from(raw, 'hex').readIntLE(0, raw.length / 2),
    raw,
    combinable: [],
  };
}

describe('kamwater status assembly', () => {
  const header = kamstrupHeader(Buffer.from('2A442D2C998734761B16', 'hex'));
  const statusOf = (records: DataRecord[], h: TelegramHeader = header) => applyDriver(h, records).fields;

  it('02FF20 with no bits set: status OK, current_status empty, no history', () => {
    expect(statusOf([statusRecord('02FF20', '0000')])).toMatchObject({
      status: 'OK',
      current_status: '',
      time_dry: '',
      time_reversed: '',
      time_leaking: '',
      time_bursting: '',
    });
  });

  it('02FF20 with every bit set: all four states sorted, every history group at 22-31 days', () => {
    expect(statusOf([statusRecord('02FF20', 'FFFF')])).toMatchObject({
      status: 'BURST DRY LEAK REVERSE',
      current_status: 'BURST DRY LEAK REVERSE',
      time_dry: '22-31 days',
      time_reversed: '22-31 days',
      time_leaking: '22-31 days',
      time_bursting: '22-31 days',
    });
  });

  it('decodes each history group independently', () => {
    // time_dry 1 (bits 4-6), time_reversed 2 (bits 7-9), time_leaking 5 (bits 10-12), time_bursting 6 (13-15)
    const infoCode = (1 << 4) | (2 << 7) | (5 << 10) | (6 << 13) | 0b0100;
    expect(infoCodeHistory(infoCode)).toEqual({
      time_dry: '1-8 hours',
      time_reversed: '9-24 hours',
      time_leaking: '8-14 days',
      time_bursting: '15-21 days',
    });
    expect(infoCodeTokens(infoCode)).toEqual(['LEAK']);
  });

  it('04FF23 with every bit set names all flags and reports the leftover bits in hex', () => {
    expect(errorFlagTokens(0xffffffff)).toEqual([
      'BURST',
      'DRY',
      'ERROR_FLAGS_FFFFFD00',
      'FLOW_ABOVE_Q4',
      'LEAK',
      'LOW_ABIENT_TEMPERATURE',
      'LOW_BATTERY',
      'NO_CONSUMPTION',
      'REVERSE',
      'TAMPER',
    ]);
    const fields = statusOf([statusRecord('04FF23', 'FFFFFFFF')]);
    expect(fields.status).toBe(
      'BURST DRY ERROR_FLAGS_FFFFFD00 FLOW_ABOVE_Q4 LEAK LOW_ABIENT_TEMPERATURE LOW_BATTERY NO_CONSUMPTION REVERSE TAMPER',
    );
    expect(fields).not.toHaveProperty('current_status');
  });

  it('04FF23 leftovers only (bits 8 and 10) become one ERROR_FLAGS token', () => {
    expect(statusOf([statusRecord('04FF23', '00050000')]).status).toBe('ERROR_FLAGS_500');
  });

  it('04FF23 with no bits set is OK', () => {
    expect(statusOf([statusRecord('04FF23', '00000000')]).status).toBe('OK');
  });

  it('joins 04FF23, 02FF20 and TPL status tokens without duplicates', () => {
    const withTpl: TelegramHeader = { ...header, tpl: { ci: 0x7a, status: 0x04 | 0x02 | 0x20 } };
    const fields = statusOf([statusRecord('04FF23', '11000000'), statusRecord('02FF20', '0100')], withTpl);
    expect(fields.status).toBe('DRY ERROR POWER_LOW TAMPER UNKNOWN_20');
    expect(fields.current_status).toBe('DRY');
  });

  it('without any status source the status is OK', () => {
    expect(statusOf([]).status).toBe('OK');
  });

  it('TPL status byte tokens', () => {
    expect(tplStatusTokens(0)).toEqual([]);
    expect(tplStatusTokens(0x01)).toEqual(['BUSY']);
    expect(tplStatusTokens(0x03 | 0x08 | 0x10)).toEqual(['ALARM', 'PERMANENT_ERROR', 'TEMPORARY_ERROR']);
    expect(tplStatusTokens(0xe0)).toEqual(['UNKNOWN_E0']);
  });

  it('joinStatus drops OK next to real tokens and keeps it alone', () => {
    expect(joinStatus(['OK'])).toBe('OK');
    expect(joinStatus([])).toBe('OK');
    expect(joinStatus(['OK', 'LEAK', 'DRY', 'LEAK'])).toBe('DRY LEAK');
  });
});

describe('kamwater readings', () => {
  const store = CompactFormatStore.withKnownFormats();

  it('names mapped values as in the JSON and keeps unmapped numeric values under generic names', () => {
    // Votten full frame: 04FF23 4413 523B 06FF1B 426C 6167 5167 023B 0413 8101E7FF0F
    const telegram = Buffer.from(
      '4744372C763081233C168D2056D1ED11205A3C7804FF2300080000441300000000523B000006FF1B08900008F0FF426CC12B61670A51671B023B000004131F0F00008101E7FF0F13',
      'hex',
    );
    const header = kamstrupHeader(telegram);
    const readings = readingsOf(header, recordsOf(telegram, store, header));
    expect(readings).toEqual([
      { name: 'target_m3', quantity: 'volume', unit: 'm3', value: 0, storage: 1, tariff: 0 },
      {
        name: 'max_volume_flow_storage_1_m3h',
        quantity: 'volume_flow',
        unit: 'm3h',
        value: 0,
        storage: 1,
        tariff: 0,
      },
      {
        name: 'min_external_temperature_last_month_c',
        quantity: 'external_temperature',
        unit: 'c',
        value: 10,
        storage: 1,
        tariff: 0,
      },
      {
        name: 'max_external_temperature_c',
        quantity: 'external_temperature',
        unit: 'c',
        value: 27,
        storage: 1,
        tariff: 0,
      },
      { name: 'flow_m3h', quantity: 'volume_flow', unit: 'm3h', value: 0, storage: 0, tariff: 0 },
      { name: 'total_m3', quantity: 'volume', unit: 'm3', value: 3.871, storage: 0, tariff: 0 },
      {
        name: 'external_temperature_storage_2_vife_7f0f_c',
        quantity: 'external_temperature',
        unit: 'c',
        value: 19,
        storage: 2,
        tariff: 0,
      },
    ]);
  });

  it('a record feeding two fields is stored once, under its most specific name', () => {
    // Vadden full frame: A1015B fills both flow_temperature_c and min_flow_temperature_c.
    const telegram = Buffer.from(
      '2D442D2C776655441B168D2083B48D3A2046887802FF20000004132F4E000092013B3D01A1015B028101E7FF0F03',
      'hex',
    );
    const header = kamstrupHeader(telegram);
    const names = readingsOf(header, recordsOf(telegram, store, header)).map((r) => r.name);
    expect(names).toEqual([
      'total_m3',
      'max_flow_m3h',
      'min_flow_temperature_c',
      'external_temperature_storage_2_vife_7f0f_c',
    ]);
  });
});
