/** One reading to store: a canonical quantity of one meter at the telegram's receive time. */
export interface Reading {
  /** 8 hex digits as printed (upper-cased when stored). */
  meterId: string;
  /** The telegram's receive time, fixed at ingest so replays produce the same natural key. */
  ts: Date;
  /**
   * The reading's name as the codec's driver prints it (wmbusmeters' field names: 'total_m3', 'target_m3',
   * 'flow_temperature_c', ...), so a value can be traced to the driver documentation; the unit is still explicit.
   */
  quantity: string;
  /** M-Bus storage number (0 = current value). */
  storage: number;
  tariff: number;
  unit: string;
  value: number;
  /** Where the telegram came from: 'gateway', 'handheld', 'mqtt', ... */
  source: string;
  /** 0 = valid; other values carry the meter's error/status indication. */
  quality?: number;
}

export interface RejectedReading {
  /** Position in the batch given to the writer. */
  index: number;
  field: keyof Reading;
  reason: string;
}

const METER_ID = /^[0-9A-Fa-f]{8}$/;
const SMALLINT_MAX = 32767;

function isSmallint(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= SMALLINT_MAX;
}

/** Why a reading cannot be stored, naming the field, or undefined when it is valid. */
export function validateReading(reading: Reading): Omit<RejectedReading, 'index'> | undefined {
  if (typeof reading.meterId !== 'string' || !METER_ID.test(reading.meterId)) {
    return { field: 'meterId', reason: `must be 8 hex digits, got ${JSON.stringify(reading.meterId)}` };
  }
  if (!(reading.ts instanceof Date) || Number.isNaN(reading.ts.getTime())) {
    return { field: 'ts', reason: 'must be a valid Date' };
  }
  if (typeof reading.quantity !== 'string' || reading.quantity.length === 0) {
    return { field: 'quantity', reason: 'must be a non-empty string' };
  }
  if (!isSmallint(reading.storage, 0)) {
    return { field: 'storage', reason: `must be an integer 0..${SMALLINT_MAX}, got ${reading.storage}` };
  }
  if (!isSmallint(reading.tariff, 0)) {
    return { field: 'tariff', reason: `must be an integer 0..${SMALLINT_MAX}, got ${reading.tariff}` };
  }
  if (typeof reading.unit !== 'string') {
    return { field: 'unit', reason: 'must be a string' };
  }
  if (typeof reading.value !== 'number' || !Number.isFinite(reading.value)) {
    return { field: 'value', reason: `must be a finite number, got ${String(reading.value)}` };
  }
  if (typeof reading.source !== 'string' || reading.source.length === 0) {
    return { field: 'source', reason: 'must be a non-empty string' };
  }
  if (reading.quality !== undefined && !isSmallint(reading.quality, -SMALLINT_MAX)) {
    return { field: 'quality', reason: `must be a smallint, got ${reading.quality}` };
  }
  return undefined;
}

/** Orders readings by natural key so concurrent writers take row locks in the same order (no deadlocks). */
export function compareNaturalKey(a: Reading, b: Reading): number {
  if (a.meterId !== b.meterId) return a.meterId < b.meterId ? -1 : 1;
  if (a.quantity !== b.quantity) return a.quantity < b.quantity ? -1 : 1;
  if (a.storage !== b.storage) return a.storage - b.storage;
  if (a.tariff !== b.tariff) return a.tariff - b.tariff;
  return a.ts.getTime() - b.ts.getTime();
}

/** UTC calendar days (YYYY-MM-DD) a set of timestamps falls on: the plain dialect's daily partitions. */
export function utcDaysOf(timestamps: Iterable<Date>): string[] {
  // Day numbers first: one string per distinct day instead of one ISO string per reading.
  const days = new Set<number>();
  for (const ts of timestamps) days.add(Math.floor(ts.getTime() / MS_PER_DAY));
  return [...days].sort((a, b) => a - b).map((day) => new Date(day * MS_PER_DAY).toISOString().slice(0, 10));
}

const MS_PER_DAY = 86_400_000;
