import type { DataRecord, TelegramHeader } from '../types';
import type { DriverMapping, MeterDriver } from './driver';
import { headerFields, jsonValue } from './fields';

/**
 * Fallback for meters without a dedicated driver. Its JSON is ours, not wmbusmeters' (which prints
 * almost nothing for unknown meters), so `meter` is "generic" rather than a wmbusmeters driver name:
 * consumers can tell that field names are derived mechanically from the records.
 */

/** Quantities whose values have no meaning without a driver; their fields are named after the record key. */
const OPAQUE_QUANTITIES = new Set(['', 'manufacturer_specific', 'reserved', 'any']);

/** wmbusmeters' library names for the instantaneous readings every meter has (spec §5.7). */
function libraryBaseName(quantity: string, storage: number): string | undefined {
  if (quantity === 'volume') return storage === 0 ? 'total' : storage === 1 ? 'target' : undefined;
  if (quantity === 'energy') {
    return storage === 0
      ? 'total_energy_consumption'
      : storage === 1
        ? 'target_energy_consumption'
        : undefined;
  }
  if (quantity === 'date' || quantity === 'datetime') {
    return storage === 0 ? 'meter' : storage === 1 ? 'target' : undefined;
  }
  return undefined;
}

const FUNCTION_PREFIX: Record<DataRecord['function'], string> = {
  instantaneous: '',
  maximum: 'max_',
  minimum: 'min_',
  error: 'error_',
};

/**
 * Deterministic field name for a record: `[max_|min_|error_]<quantity>[_storage_N][_tariff_N]
 * [_subunit_N][_vife_XX…]_<unit>`, with wmbusmeters' library names for instantaneous volume, energy
 * and dates at storage 0/1 (total_m3, target_m3, total_energy_consumption_kwh, target_date, …).
 * Opaque records become `record_<key>`. Uniqueness within a telegram is the caller's job.
 */
/** True for records whose value is raw manufacturer data rather than a measurement. */
export function isOpaque(record: DataRecord): boolean {
  return OPAQUE_QUANTITIES.has(record.quantity);
}

export function genericFieldName(record: DataRecord): string {
  if (isOpaque(record)) return `record_${record.key.toLowerCase()}`;
  const library =
    record.function === 'instantaneous' ? libraryBaseName(record.quantity, record.storage) : undefined;
  let name = library ?? `${FUNCTION_PREFIX[record.function]}${record.quantity}`;
  if (library === undefined && record.storage > 0) name += `_storage_${record.storage}`;
  if (record.tariff > 0) name += `_tariff_${record.tariff}`;
  if (record.subunit > 0) name += `_subunit_${record.subunit}`;
  for (const code of record.combinable) name += `_vife_${code.toString(16).padStart(2, '0')}`;
  if (record.unit !== '') name += `_${record.unit}`;
  return name;
}

/** Reserves `name`, or `name_2`, `name_3`, … when it is taken. */
export function claimUniqueName(name: string, taken: Set<string>): string {
  let unique = name;
  for (let n = 2; taken.has(unique); n++) unique = `${name}_${n}`;
  taken.add(unique);
  return unique;
}

function mapGeneric(header: TelegramHeader, records: readonly DataRecord[]): DriverMapping {
  const fields = headerFields(header, genericDriver.name);
  const taken = new Set(Object.keys(fields));
  const recordFieldNames = records.map((record) => {
    const name = claimUniqueName(genericFieldName(record), taken);
    fields[name] = jsonValue(record.value);
    return typeof record.value === 'number' && !isOpaque(record) ? name : undefined;
  });
  return { fields, recordFieldNames };
}

export const genericDriver: MeterDriver = {
  name: 'generic',
  detects: () => true,
  map: mapGeneric,
};
