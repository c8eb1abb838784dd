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
  /**
   * For meter types whose manufacturer-specific CI (0xA0–0xB7) payload is encrypted with the meter key:
   * decrypts, verifies and parses `payload` (the bytes after the CI). `ivPrefix` is M ‖ A as on the
   * wire, `payloadOffset` the payload's position in the frame.
   */
  decryptManufacturerPayload?(
    payload: Buffer,
    ivPrefix: Buffer,
    key: Buffer,
    payloadOffset: number,
  ): ManufacturerPayloadOutcome;
}

/** 'verification': the plaintext failed the driver's check (wrong key or corrupt telegram). */
export type ManufacturerPayloadOutcome =
  { ok: true; records: DataRecord[] } | { ok: false; reason: 'truncated' | 'verification' };
