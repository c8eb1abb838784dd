import type { CachedReading, ReadingCache } from '@hes/cache';
import type { Pool } from 'pg';

/** The newest stored value of one quantity/storage/tariff of a meter. */
export interface LatestValue {
  /** The driver's field name, e.g. 'total_m3'. */
  quantity: string;
  /** M-Bus storage number (0 = current value, 1 = e.g. the due-date register). */
  storage: number;
  tariff: number;
  unit: string;
  value: number;
  /** Reading time, UTC ISO 8601 with milliseconds. */
  ts: string;
}

/** A meter and its history floor (meters.history_from): values older than it are not the caller's to see. */
export interface MeterHistory {
  meterId: string;
  historyFrom: Date | null;
}

/** The cache operation LatestReadings needs; a ReadingCache in production. */
export type LatestCache = Pick<ReadingCache, 'getLatest'>;

/** A stored reading's value columns, the time as epoch milliseconds. */
export interface StoredValueRow {
  meter_id: string;
  quantity: string;
  storage: number;
  tariff: number;
  unit: string;
  value: number;
  ts_ms: string;
}

/**
 * Newest value per (quantity, storage, tariff) of each series of a meter, straight from the primary key
 * (meter_id, quantity, storage, tariff, ts): DISTINCT ON keeps the first row per series in key order.
 */
const LATEST_FROM_READINGS = `
  SELECT DISTINCT ON (meter_id, quantity, storage, tariff)
         meter_id, quantity, storage, tariff, unit, value,
         (extract(epoch FROM ts) * 1000)::bigint AS ts_ms
  FROM readings
  WHERE meter_id = ANY($1::text[])
  ORDER BY meter_id, quantity, storage, tariff, ts DESC`;

/**
 * Latest values of meters: from Redis (the hash the decryptor keeps per meter) and, for meters Redis has
 * nothing for or when Redis is unavailable, from the readings table. Both paths produce the same values in the
 * same order (quantity, storage, tariff), so a caller cannot tell where an answer came from. Meter ids must be
 * upper-case as stored, and the caller has already checked they are in its tenant.
 *
 * Values older than a meter's history floor are dropped from either source after the read: a series' newest
 * value is at or after the floor exactly when the series has any reading there, so this is the same answer as
 * reading only rows from the floor on, and it needs no knowledge of the floor in Redis or in the query.
 */
export class LatestReadings {
  constructor(
    private readonly pool: Pool,
    private readonly cache: LatestCache,
  ) {}

  /** Latest values of one meter from its history floor on; an empty list when it has not reported since. */
  async ofMeter(meterId: string, historyFrom: Date | null): Promise<LatestValue[]> {
    return (await this.ofMeters([{ meterId, historyFrom }])).get(meterId) ?? [];
  }

  /**
   * Latest values of each meter given from its history floor on (every id is a key of the result, with [] when
   * it has not reported since).
   */
  async ofMeters(meters: readonly MeterHistory[]): Promise<Map<string, LatestValue[]>> {
    const latest = await this.newestOf([...new Set(meters.map((meter) => meter.meterId))]);
    for (const { meterId, historyFrom } of meters) {
      const values = latest.get(meterId);
      if (values !== undefined && historyFrom !== null) latest.set(meterId, visibleFrom(values, historyFrom));
    }
    return latest;
  }

  private async newestOf(unique: readonly string[]): Promise<Map<string, LatestValue[]>> {
    const latest = new Map<string, LatestValue[]>();
    let misses: string[];
    try {
      const cached = await Promise.all(unique.map((meterId) => this.cache.getLatest(meterId)));
      misses = [];
      unique.forEach((meterId, index) => {
        const values = Object.values(cached[index]);
        if (values.length === 0) misses.push(meterId);
        else latest.set(meterId, sortValues(values.map(latestValueOfCache)));
      });
    } catch {
      // Redis down or timing out: the database is the source of truth and answers for every meter.
      latest.clear();
      misses = [...unique];
    }
    if (misses.length > 0) {
      for (const meterId of misses) latest.set(meterId, []);
      const result = await this.pool.query<StoredValueRow>(LATEST_FROM_READINGS, [misses]);
      for (const row of result.rows) latest.get(row.meter_id)?.push(latestValueOfRow(row));
      for (const meterId of misses) sortValues(latest.get(meterId) ?? []);
    }
    return latest;
  }
}

/** The values at or after a meter's history floor (all of them without one). */
export function visibleFrom(values: LatestValue[], historyFrom: Date | null): LatestValue[] {
  if (historyFrom === null) return values;
  const floorMs = historyFrom.getTime();
  return values.filter((value) => Date.parse(value.ts) >= floorMs);
}

export function latestValueOfCache(reading: CachedReading): LatestValue {
  return {
    quantity: reading.quantity,
    storage: reading.storage ?? 0,
    tariff: reading.tariff ?? 0,
    unit: reading.unit,
    value: reading.value,
    ts: new Date(reading.ts).toISOString(),
  };
}

export function latestValueOfRow(row: StoredValueRow): LatestValue {
  return {
    quantity: row.quantity,
    storage: row.storage,
    tariff: row.tariff,
    unit: row.unit,
    value: row.value,
    ts: new Date(Number(row.ts_ms)).toISOString(),
  };
}

/**
 * One order for both sources: quantity in code-unit order (not the database collation, which may differ),
 * then storage, then tariff.
 */
function sortValues(values: LatestValue[]): LatestValue[] {
  return values.sort(
    (a, b) =>
      (a.quantity < b.quantity ? -1 : a.quantity > b.quantity ? 1 : 0) ||
      a.storage - b.storage ||
      a.tariff - b.tariff,
  );
}
