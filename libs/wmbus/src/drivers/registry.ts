import type { DataRecord, FieldValue, TelegramHeader } from '../types';
import type { MeterDriver } from './driver';
import { jsonNumber } from './fields';
import { apatorna1Driver } from './apatorna1';
import { claimUniqueName, genericDriver, genericFieldName, isOpaque } from './generic';
import { kamwaterDriver } from './kamwater';

/** Dedicated drivers, first match wins; the generic driver takes everything else. */
const DRIVERS: readonly MeterDriver[] = [kamwaterDriver, apatorna1Driver];

export function driverFor(header: TelegramHeader): MeterDriver {
  return DRIVERS.find((driver) => driver.detects(header)) ?? genericDriver;
}

/** Maps parsed records to the meter type's JSON fields (wmbusmeters-compatible for known types). */
export function applyDriver(
  header: TelegramHeader,
  records: DataRecord[],
): { driver: string; fields: Record<string, FieldValue> } {
  const driver = driverFor(header);
  return { driver: driver.name, fields: driver.map(header, records).fields };
}

/** One numeric value of a telegram, as the pipeline stores it. */
export interface Reading {
  /** The JSON field name the value appears under (driver name, else the generic name). */
  name: string;
  quantity: string;
  unit: string;
  value: number;
  storage: number;
  tariff: number;
}

/**
 * Every numeric record of a telegram as a reading, named as in the driver's JSON where the driver maps
 * it and by the generic naming otherwise (so unmapped values such as Kamstrup's 523B max flow are
 * still stored). Dates, text, invalid (null/NaN) values and raw manufacturer-specific data (whose
 * integer reading has no unit or meaning) are skipped. Values are rounded as in the JSON.
 */
export function readingsOf(header: TelegramHeader, records: readonly DataRecord[]): Reading[] {
  const mapping = driverFor(header).map(header, records);
  const taken = new Set(Object.keys(mapping.fields));
  const readings: Reading[] = [];
  records.forEach((record, index) => {
    if (typeof record.value !== 'number' || isOpaque(record)) return;
    const value = jsonNumber(record.value);
    if (value === null) return;
    const name = mapping.recordFieldNames[index] ?? claimUniqueName(genericFieldName(record), taken);
    readings.push({
      name,
      quantity: record.quantity,
      unit: record.unit,
      value,
      storage: record.storage,
      tariff: record.tariff,
    });
  });
  return readings;
}
