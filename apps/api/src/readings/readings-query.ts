import { ApiValidationException } from '../http/api-error';
import type { MeterConsumption } from './consumption';
import type { ReadingPosition } from './readings.repository';

const DAY_MS = 86_400_000;

/** An instant already matched against INSTANT (so Date.parse reads it as UTC or with its offset). */
export function instantOf(value: string | undefined, fallbackMs: number): number {
  return value === undefined ? fallbackMs : Date.parse(value);
}

/** from/to as epoch ms, `to` after `from` and the span at most `maxDays`; 400 naming the field otherwise. */
export function periodOf(fromMs: number, toMs: number, maxDays: number): { fromMs: number; toMs: number } {
  if (Number.isNaN(fromMs))
    throw new ApiValidationException([{ field: 'from', message: 'is not a valid date' }]);
  if (Number.isNaN(toMs)) throw new ApiValidationException([{ field: 'to', message: 'is not a valid date' }]);
  if (toMs <= fromMs) throw new ApiValidationException([{ field: 'to', message: 'must be after from' }]);
  if (toMs - fromMs > maxDays * DAY_MS) {
    throw new ApiValidationException([
      { field: 'to', message: `must be at most ${maxDays} days after from` },
    ]);
  }
  return { fromMs, toMs };
}

export function quantitiesOf(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : [...new Set(value.split(','))];
}

/** An IANA time zone name the runtime knows, or a 400 for `tz`. */
export function timeZoneOf(value: string | undefined): string {
  if (value === undefined) return 'UTC';
  try {
    return new Intl.DateTimeFormat('en', { timeZone: value }).resolvedOptions().timeZone;
  } catch {
    throw new ApiValidationException([
      { field: 'tz', message: 'must be an IANA time zone, e.g. Europe/Berlin' },
    ]);
  }
}

/** Opaque page cursor: the last row's position, base64url JSON [tsUs, quantity, storage, tariff]. */
export function encodeReadingCursor(position: ReadingPosition): string {
  return Buffer.from(
    JSON.stringify([position.tsUs, position.quantity, position.storage, position.tariff]),
  ).toString('base64url');
}

export function decodeReadingCursor(cursor: string): ReadingPosition {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  if (
    Array.isArray(decoded) &&
    decoded.length === 4 &&
    Number.isSafeInteger(decoded[0]) &&
    typeof decoded[1] === 'string' &&
    Number.isInteger(decoded[2]) &&
    Number.isInteger(decoded[3])
  ) {
    return { tsUs: decoded[0], quantity: decoded[1], storage: decoded[2], tariff: decoded[3] };
  }
  throw new ApiValidationException([{ field: 'cursor', message: 'is not a cursor this endpoint returned' }]);
}

/**
 * The CSV columns of a consumption export, in order. Timestamps UTC ISO 8601, numbers as JSON prints them,
 * empty cells for missing values, flags joined with '|'.
 */
export const CONSUMPTION_CSV_COLUMNS = [
  'meter_id',
  'quantity',
  'unit',
  'period_from',
  'period_to',
  'start_ts',
  'start_value',
  'start_after_boundary',
  'end_ts',
  'end_value',
  'end_after_boundary',
  'delta',
  'gap_count',
  'longest_gap_hours',
  'decreases',
  'target_quantity',
  'target_unit',
  'target_value',
  'target_ts',
  'flags',
] as const;

/** RFC 4180: quote a field that holds a comma, a quote or a line break. */
function csvField(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function consumptionCsvHeader(): string {
  return `${CONSUMPTION_CSV_COLUMNS.join(',')}\r\n`;
}

export function consumptionCsvRow(item: MeterConsumption, from: string, to: string): string {
  const cells = [
    item.meterId,
    item.quantity,
    item.unit,
    from,
    to,
    item.start?.ts,
    item.start?.value,
    item.start?.afterBoundary,
    item.end?.ts,
    item.end?.value,
    item.end?.afterBoundary,
    item.delta,
    item.gapCount,
    item.longestGapHours,
    item.decreases,
    item.target?.quantity,
    item.target?.unit,
    item.target?.value,
    item.target?.ts,
    item.flags.join('|'),
  ];
  return `${cells.map(csvField).join(',')}\r\n`;
}
