import type { RecordFunction } from '../types';

/** How the data field of a record is coded (DIF bits 0–3, EN 13757-3 table 4). */
export type DataCoding = 'none' | 'int' | 'real' | 'selection' | 'bcd' | 'lvar' | 'special';

export interface DataFieldCoding {
  coding: DataCoding;
  /** Fixed byte length; for LVAR the length comes from the first data byte, for special DIFs from the rest. */
  length: number;
}

/** Indexed by DIF & 0x0F. */
export const DATA_FIELD_CODINGS: readonly DataFieldCoding[] = [
  { coding: 'none', length: 0 },
  { coding: 'int', length: 1 },
  { coding: 'int', length: 2 },
  { coding: 'int', length: 3 },
  { coding: 'int', length: 4 },
  { coding: 'real', length: 4 },
  { coding: 'int', length: 6 },
  { coding: 'int', length: 8 },
  { coding: 'selection', length: 0 },
  { coding: 'bcd', length: 1 },
  { coding: 'bcd', length: 2 },
  { coding: 'bcd', length: 3 },
  { coding: 'bcd', length: 4 },
  { coding: 'lvar', length: 0 },
  { coding: 'bcd', length: 6 },
  { coding: 'special', length: 0 },
];

/** Indexed by (DIF >> 4) & 3. */
export const RECORD_FUNCTIONS: readonly RecordFunction[] = ['instantaneous', 'maximum', 'minimum', 'error'];

/** Idle filler byte: skipped wherever a DIF is expected. */
export const DIF_FILLER = 0x2f;
/** Manufacturer-specific data follows to the end of the APL. */
export const DIF_MANUFACTURER_DATA = 0x0f;
/** As 0x0F, plus "more records follow in the next telegram". */
export const DIF_MORE_RECORDS_FOLLOW = 0x1f;

export const EXTENSION_BIT = 0x80;
/** EN 13757-3 limits a record header to 10 DIFEs and 10 VIFEs. */
export const MAX_DIFES = 10;
export const MAX_VIFES = 10;

/** Storage, tariff and sub-unit accumulated from DIF bit 6 and a DIFE chain (spec §5.2). */
export interface DifeAddress {
  storage: number;
  tariff: number;
  subunit: number;
}

/**
 * Folds the DIFE at chain position `index` (0-based) into `address`. Multiplication instead of shifts
 * keeps storage numbers exact beyond 32 bits (10 DIFEs carry 41 storage bits).
 */
export function applyDife(address: DifeAddress, dife: number, index: number): void {
  address.storage += (dife & 0x0f) * 2 ** (1 + 4 * index);
  address.tariff += ((dife >> 4) & 0x03) * 2 ** (2 * index);
  address.subunit += ((dife >> 6) & 0x01) * 2 ** index;
}
