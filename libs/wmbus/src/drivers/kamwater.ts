import type { DataRecord, FieldValue, RecordFunction, TelegramHeader } from '../types';
import type { DriverMapping, MeterDriver } from './driver';
import { headerFields, jsonNumber, rawUnsigned, vifRangeOf, type VifRange } from './fields';
import { bitTokens, joinStatus, tplStatusTokens, type BitName } from './status';

/**
 * Kamstrup water meters: MULTICAL 21, flowIQ 2101/2200/3100, KWM 2230/3230 — wmbusmeters' `kamwater`
 * driver as of the pinned snapshot (spec §7). Selected on manufacturer KAM/KAW and device type warm
 * (0x06) or cold (0x16) water. The version byte is not checked: the flowIQ 2101's is unconfirmed and
 * wmbusmeters has missed MULTICAL 21 units with unlisted versions (spec §7.1).
 */

interface NumericField {
  name: string;
  function: RecordFunction;
  range: VifRange;
  /** Accepted storage numbers; the first matching record in telegram order wins. */
  storages: readonly number[];
  unit: string;
}

/**
 * Order matters twice: JSON field order, and which field names a record's stored reading (the first
 * field that takes it). min_flow_temperature_c therefore precedes its alias flow_temperature_c.
 */
const NUMERIC_FIELDS: readonly NumericField[] = [
  { name: 'total_m3', function: 'instantaneous', range: 'volume', storages: [0], unit: 'm3' },
  { name: 'target_m3', function: 'instantaneous', range: 'volume', storages: [1], unit: 'm3' },
  { name: 'flow_m3h', function: 'instantaneous', range: 'volume_flow', storages: [0], unit: 'm3h' },
  {
    name: 'min_flow_temperature_c',
    function: 'minimum',
    range: 'flow_temperature',
    storages: [2],
    unit: 'c',
  },
  { name: 'flow_temperature_c', function: 'minimum', range: 'flow_temperature', storages: [1, 2], unit: 'c' },
  {
    name: 'max_flow_temperature_c',
    function: 'maximum',
    range: 'flow_temperature',
    storages: [2],
    unit: 'c',
  },
  {
    name: 'min_external_temperature_last_month_c',
    function: 'minimum',
    range: 'external_temperature',
    storages: [1],
    unit: 'c',
  },
  {
    name: 'min_external_temperature_last_day_c',
    function: 'minimum',
    range: 'external_temperature',
    storages: [2],
    unit: 'c',
  },
  {
    name: 'max_external_temperature_c',
    function: 'maximum',
    range: 'external_temperature',
    storages: [1],
    unit: 'c',
  },
  { name: 'max_flow_m3h', function: 'maximum', range: 'volume_flow', storages: [2], unit: 'm3h' },
  { name: 'min_flow_m3h', function: 'minimum', range: 'volume_flow', storages: [2], unit: 'm3h' },
];

/** MULTICAL 21 / flowIQ 2101 info codes (record 02FF20), bits 0-3: current state. */
const INFO_CODE_BITS: readonly BitName[] = [
  { bit: 0, name: 'DRY' },
  { bit: 1, name: 'REVERSE' },
  { bit: 2, name: 'LEAK' },
  { bit: 3, name: 'BURST' },
];

/** flowIQ 2200/3100 and KWM info/error flags (record 04FF23). Bits 8, 10 and up are unnamed. */
const ERROR_FLAG_BITS: readonly BitName[] = [
  ...INFO_CODE_BITS,
  { bit: 4, name: 'TAMPER' },
  { bit: 5, name: 'LOW_BATTERY' },
  // Misspelt in wmbusmeters; kept so that consumers of its JSON see the same token.
  { bit: 6, name: 'LOW_ABIENT_TEMPERATURE' },
  { bit: 7, name: 'FLOW_ABOVE_Q4' },
  { bit: 9, name: 'NO_CONSUMPTION' },
];

/** 3-bit duration index of the info-code history groups (bits 4-6, 7-9, 10-12, 13-15). */
const HISTORY_DURATIONS: readonly string[] = [
  '',
  '1-8 hours',
  '9-24 hours',
  '2-3 days',
  '4-7 days',
  '8-14 days',
  '15-21 days',
  '22-31 days',
];

const HISTORY_FIELDS: ReadonlyArray<{ name: string; shift: number }> = [
  { name: 'time_dry', shift: 4 },
  { name: 'time_reversed', shift: 7 },
  { name: 'time_leaking', shift: 10 },
  { name: 'time_bursting', shift: 13 },
];

const INFO_CODES_KEY = '02FF20';
const ERROR_FLAGS_KEY = '04FF23';

/** Current-state tokens of a 02FF20 info code (sorted; empty when none). */
export function infoCodeTokens(infoCode: number): string[] {
  return bitTokens(infoCode, 0x000f, INFO_CODE_BITS, 'ERROR_FLAGS').sort();
}

/** Tokens of a 04FF23 error-flag word, leftovers as ERROR_FLAGS_<HEX> (sorted; empty when none). */
export function errorFlagTokens(flags: number): string[] {
  return bitTokens(flags, 0xffffffff, ERROR_FLAG_BITS, 'ERROR_FLAGS').sort();
}

/** The four history texts of a 02FF20 info code. */
export function infoCodeHistory(infoCode: number): Record<string, string> {
  const history: Record<string, string> = {};
  for (const { name, shift } of HISTORY_FIELDS) history[name] = HISTORY_DURATIONS[(infoCode >> shift) & 0x07];
  return history;
}

function matches(record: DataRecord, range: VifRange, field: NumericField): boolean {
  return (
    record.function === field.function &&
    range === field.range &&
    field.storages.includes(record.storage) &&
    record.tariff === 0 &&
    record.subunit === 0 &&
    record.combinable.length === 0 &&
    record.unit === field.unit
  );
}

function firstWithHeader(records: readonly DataRecord[], header: string): DataRecord | undefined {
  return records.find((record) => record.header === header);
}

function mapKamwater(header: TelegramHeader, records: readonly DataRecord[]): DriverMapping {
  const fields = headerFields(header, kamwaterDriver.name);
  const recordFieldNames: Array<string | undefined> = new Array(records.length).fill(undefined);
  const ranges = records.map(vifRangeOf);

  for (const field of NUMERIC_FIELDS) {
    const index = records.findIndex(
      (record, i) => typeof record.value !== 'string' && matches(record, ranges[i], field),
    );
    if (index < 0) continue;
    const value = records[index].value;
    fields[field.name] = typeof value === 'number' ? jsonNumber(value) : null;
    recordFieldNames[index] ??= field.name;
  }

  const targetDate = records.find(
    (record, i) =>
      record.function === 'instantaneous' &&
      ranges[i] === 'date' &&
      record.storage === 1 &&
      record.tariff === 0 &&
      record.subunit === 0 &&
      record.combinable.length === 0,
  );
  if (targetDate) fields.target_date = typeof targetDate.value === 'string' ? targetDate.value : null;

  Object.assign(fields, statusFields(header, records));
  return { fields, recordFieldNames };
}

/**
 * status (always), plus current_status and time_* when the meter sends 02FF20. status joins the
 * 04FF23 flags, the TPL status byte (only frames with a TPL header carry one) and the 02FF20 state.
 */
function statusFields(header: TelegramHeader, records: readonly DataRecord[]): Record<string, FieldValue> {
  const tokens: string[] = [];
  const errorFlagsRecord = firstWithHeader(records, ERROR_FLAGS_KEY);
  const errorFlags = errorFlagsRecord && rawUnsigned(errorFlagsRecord);
  if (errorFlags !== undefined) tokens.push(...errorFlagTokens(errorFlags));
  if (header.tpl?.status !== undefined) tokens.push(...tplStatusTokens(header.tpl.status));

  const infoCodeRecord = firstWithHeader(records, INFO_CODES_KEY);
  const infoCode = infoCodeRecord && rawUnsigned(infoCodeRecord);
  const fields: Record<string, FieldValue> = {};
  if (infoCode !== undefined) {
    const current = infoCodeTokens(infoCode);
    tokens.push(...current);
    fields.current_status = current.join(' ');
    Object.assign(fields, infoCodeHistory(infoCode));
  }
  return { status: joinStatus(tokens), ...fields };
}

export const kamwaterDriver: MeterDriver = {
  name: 'kamwater',
  detects: (header) =>
    (header.manufacturer === 'KAM' || header.manufacturer === 'KAW') &&
    (header.deviceType === 0x06 || header.deviceType === 0x16),
  map: mapKamwater,
};
