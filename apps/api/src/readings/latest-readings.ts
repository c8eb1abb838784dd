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
 */
export class LatestReadings {
  constructor(
    private readonly pool: Pool,
    private readonly cache: LatestCache,
  ) {}

  /** Latest values of one meter; an empty list when it has never reported. */
  async ofMeter(meterId: string): Promise<LatestValue[]> {
    return (await this.ofMeters([meterId])).get(meterId) ?? [];
  }

  /** Latest values of each meter given (every id is a key of the result, with [] when it never reported). */
  async ofMeters(meterIds: readonly string[]): Promise<Map<string, LatestValue[]>> {
    const unique = [...new Set(meterIds)];
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
      misses = unique;
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
