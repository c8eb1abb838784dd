import type { DataRecord, FieldValue, TelegramHeader } from '../types';

/**
 * Numbers as wmbusmeters prints them: `%f` (six decimals) with trailing zeros dropped, i.e. rounded to
 * six decimals; NaN/infinite become null. Negative zero is printed as 0.
 */
export function jsonNumber(value: number): number | null {
  if (!Number.isFinite(value)) return null;
  if (Number.isInteger(value)) return value === 0 ? 0 : value;
  const micros = value * 1e6;
  const rounded = Math.round(micros);
  // Integer / 1e6 is correctly rounded, so it equals Number(value.toFixed(6)) unless the value sits
  // so close to a half-millionth that the multiplication may have tipped the rounding direction;
  // only then pay for the exact decimal conversion.
  const result = Math.abs(Math.abs(micros - rounded) - 0.5) > 1e-6 ? rounded / 1e6 : Number(value.toFixed(6));
  return result === 0 ? 0 : result;
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
  while (i + 2 <= header.length && hexByte(header, i) & 0x80) i += 2;
  i += 2;
  if (i + 2 > header.length) return 'other';
  const vif = hexByte(header, i) & 0x7f;
  if (vif >= 0x10 && vif <= 0x17) return 'volume';
  if (vif >= 0x38 && vif <= 0x3f) return 'volume_flow';
  if (vif >= 0x58 && vif <= 0x5b) return 'flow_temperature';
  if (vif >= 0x64 && vif <= 0x67) return 'external_temperature';
  if (vif === 0x6c) return 'date';
  return 'other';
}

function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return NaN;
}

/** The byte at character offset `i` of a hex string; NaN when those characters are not hex. */
function hexByte(hex: string, i: number): number {
  return hexDigit(hex.charCodeAt(i)) * 16 + hexDigit(hex.charCodeAt(i + 1));
}

/** Unsigned little-endian integer from a record's raw data bytes (up to 48 bits), undefined if absent. */
export function rawUnsigned(record: DataRecord): number | undefined {
  const raw = record.raw;
  const length = raw.length / 2;
  if (length < 1 || length > 6 || !Number.isInteger(length)) return undefined;
  let value = 0;
  for (let i = length - 1; i >= 0; i--) value = value * 256 + hexByte(raw, i * 2);
  return Number.isNaN(value) ? undefined : value;
}
