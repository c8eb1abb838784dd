import type { DataRecord, FieldValue, TelegramHeader } from '../types';

export interface DriverMapping {
  /** wmbusmeters-style JSON fields, `_`/media/meter/name/id first. */
  fields: Record<string, FieldValue>;
  /**
   * Per record index, the numeric field that record fills (undefined when none), so stored readings
   * carry the same names as the JSON.
   */
  recordFieldNames: Array<string | undefined>;
}

/** Per-meter-type knowledge kept apart from the generic record parser (as wmbusmeters' drivers are). */
export interface MeterDriver {
  /** Canonical driver name; also the JSON `meter` value. */
  readonly name: string;
  detects(header: TelegramHeader): boolean;
  map(header: TelegramHeader, records: readonly DataRecord[]): DriverMapping;
}
