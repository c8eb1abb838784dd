import type { DataRecord, FieldValue, TelegramHeader } from '../types';

/**
 * Numbers as wmbusmeters prints them: `%f` (six decimals) with trailing zeros dropped, i.e. rounded to
 * six decimals; NaN/infinite become null. Negative zero is printed as 0.
 */
export function jsonNumber(value: number): number | null {
  if (!Number.isFinite(value)) return null;
  const rounded = Number(value.toFixed(6));
  return rounded === 0 ? 0 : rounded;
}

/** A record value as a JSON field value: numbers rounded as above, text and null unchanged. */
export function jsonValue(value: DataRecord['value']): FieldValue {
  return typeof value === 'number' ? jsonNumber(value) : value;
}

/**
 * The fields every telegram JSON starts with. `name` is the operator's meter name, which the codec
 * does not know; the caller fills it in. Also what a telegram that could not be decoded reports.
 */
export function headerFields(header: TelegramHeader, meter: string): Record<string, FieldValue> {
  return { _: 'telegram', media: header.medium, meter, name: '', id: header.id };
}

/** The VIF ranges drivers match on (wmbusmeters' `vif_range`), from the primary VIF code. */
export type VifRange =
  'volume' | 'volume_flow' | 'flow_temperature' | 'external_temperature' | 'date' | 'other';

/**
 * Classifies a record by the primary VIF in its DIF/VIF header. Extension-table and manufacturer VIFs
 * (0x7B, 0x7C, 0x7D, 0x7F, 0x6F markers) are 'other': drivers match those by exact key.
 */
export function vifRangeOf(record: DataRecord): VifRange {
  const header = record.header;
  let i = 0;
  while (i + 2 <= header.length && parseInt(header.slice(i, i + 2), 16) & 0x80) i += 2;
  i += 2;
  if (i + 2 > header.length) return 'other';
  const vif = parseInt(header.slice(i, i + 2), 16) & 0x7f;
  if (vif >= 0x10 && vif <= 0x17) return 'volume';
  if (vif >= 0x38 && vif <= 0x3f) return 'volume_flow';
  if (vif >= 0x58 && vif <= 0x5b) return 'flow_temperature';
  if (vif >= 0x64 && vif <= 0x67) return 'external_temperature';
  if (vif === 0x6c) return 'date';
  return 'other';
}

/** Unsigned little-endian integer from a record's raw data bytes (up to 48 bits), undefined if absent. */
export function rawUnsigned(record: DataRecord): number | undefined {
  const length = record.raw.length / 2;
  if (length < 1 || length > 6 || !Number.isInteger(length)) return undefined;
  return Buffer.from(record.raw, 'hex').readUIntLE(0, length);
}
