import type { Pool } from 'pg';
import { StorageDialect, readRecordedDialect } from './dialect';
import { Reading, RejectedReading, compareNaturalKey, utcDaysOf, validateReading } from './reading';

export interface WriteResult {
  /** Rows newly stored. */
  inserted: number;
  /** Valid rows already stored before (replays, overlapping gateways, repeats within the batch). */
  duplicates: number;
  /** Invalid rows, not stored; the valid rows of the same batch are stored regardless. */
  rejected: RejectedReading[];
}

export interface ReadingWriterOptions {
  /** Skip the lookup of the recorded dialect (it must match what the migrations recorded). */
  dialect?: StorageDialect;
}

const UNNEST_INPUT = `
  SELECT meter_id, to_timestamp(ts_ms / 1000.0) AS ts, quantity, storage, tariff, unit, value, source, quality
  FROM unnest($1::text[], $2::float8[], $3::text[], $4::int2[], $5::int2[], $6::text[], $7::float8[], $8::text[], $9::int2[])
    AS input(meter_id, ts_ms, quantity, storage, tariff, unit, value, source, quality)`;

const INSERT_READINGS = `
  INSERT INTO readings (meter_id, ts, quantity, storage, tariff, unit, value, source, quality)
  ${UNNEST_INPUT}
  ON CONFLICT DO NOTHING`;

/**
 * Marks the (meter, UTC day) pairs of inserted rows from before today pending for the readings_1d refresher
 * (DailySummaryRefresher), in the insert's own statement and transaction. Live batches have no such rows, so
 * this inserts nothing. DO UPDATE (not DO NOTHING) renews the mark and waits for a refresher holding the row,
 * which is what keeps a marking from being lost (see DailySummaryRefresher). Sorted to lock in one order.
 */
const MARK_BACKDATED_DAYS = `
  marked AS (
    INSERT INTO readings_1d_pending AS p (meter_id, day)
    SELECT DISTINCT meter_id, date_trunc('day', ts, 'UTC') AS day FROM inserted
    WHERE ts < date_trunc('day', now(), 'UTC')
    ORDER BY meter_id, day
    ON CONFLICT (meter_id, day) DO UPDATE SET mark = EXCLUDED.mark
  )`;

/** TimescaleDB: the continuous aggregate follows the hypertable by itself (real-time part + invalidation log). */
const WRITE_TIMESCALEDB = `
  WITH inserted AS (${INSERT_READINGS} RETURNING meter_id, ts),
  ${MARK_BACKDATED_DAYS}
  SELECT count(*)::int AS inserted FROM inserted`;

/**
 * Plain PostgreSQL: one statement inserts the readings and folds exactly the rows it inserted (RETURNING)
 * into readings_30m, so the rollup commits or rolls back with them and replays never count twice.
 * first/last carry their timestamps so a batch older or newer than what a bucket holds merges correctly.
 */
const WRITE_POSTGRES = `
  WITH inserted AS (${INSERT_READINGS} RETURNING meter_id, ts, quantity, storage, tariff, unit, value),
  rolled_up AS (
    INSERT INTO readings_30m AS r (bucket, meter_id, quantity, storage, tariff, unit, first_ts, first_value,
                                   last_ts, last_value, min_value, max_value, sum_value, reading_count)
    SELECT date_bin(INTERVAL '30 minutes', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
           meter_id, quantity, storage, tariff, unit,
           min(ts), (array_agg(value ORDER BY ts))[1], max(ts), (array_agg(value ORDER BY ts DESC))[1],
           min(value), max(value), sum(value), count(*)
    FROM inserted
    GROUP BY bucket, meter_id, quantity, storage, tariff, unit
    ORDER BY meter_id, quantity, storage, tariff, unit, bucket
    ON CONFLICT (meter_id, quantity, storage, tariff, unit, bucket) DO UPDATE SET
      first_ts = LEAST(r.first_ts, EXCLUDED.first_ts),
      first_value = CASE WHEN EXCLUDED.first_ts < r.first_ts THEN EXCLUDED.first_value ELSE r.first_value END,
      last_ts = GREATEST(r.last_ts, EXCLUDED.last_ts),
      last_value = CASE WHEN EXCLUDED.last_ts > r.last_ts THEN EXCLUDED.last_value ELSE r.last_value END,
      min_value = LEAST(r.min_value, EXCLUDED.min_value),
      max_value = GREATEST(r.max_value, EXCLUDED.max_value),
      sum_value = r.sum_value + EXCLUDED.sum_value,
      reading_count = r.reading_count + EXCLUDED.reading_count
    RETURNING 1
  ),
  ${MARK_BACKDATED_DAYS}
  SELECT count(*)::int AS inserted FROM inserted`;

/** PostgreSQL's "no partition of relation found for row". */
const NO_PARTITION_FOR_ROW = '23514';

/**
 * Batched, idempotent reading writer: one multi-row unnest INSERT ... ON CONFLICT DO NOTHING per batch,
 * one transaction per batch. Writing the same batch twice stores nothing the second time.
 */
export class ReadingWriter {
  private dialect: StorageDialect | undefined;
  /** Plain dialect: UTC days whose partition is known to exist. */
  private readonly knownPartitions = new Set<string>();

  constructor(
    private readonly pool: Pool,
    options: ReadingWriterOptions = {},
  ) {
    this.dialect = options.dialect;
  }

  async write(readings: readonly Reading[]): Promise<WriteResult> {
    const rejected: RejectedReading[] = [];
    const valid: Reading[] = [];
    readings.forEach((reading, index) => {
      const problem = validateReading(reading);
      if (problem) rejected.push({ index, ...problem });
      else valid.push(reading);
    });
    if (valid.length === 0) return { inserted: 0, duplicates: 0, rejected };

    valid.sort(compareNaturalKey);
    const dialect = await this.resolveDialect();
    const params = toColumns(valid);
    let inserted: number;
    if (dialect === 'timescaledb') {
      inserted = await this.run(WRITE_TIMESCALEDB, params);
    } else {
      const days = utcDaysOf(valid.map((reading) => reading.ts));
      await this.ensurePartitions(days);
      try {
        inserted = await this.run(WRITE_POSTGRES, params);
      } catch (error) {
        // A partition the cache remembered was dropped by retention meanwhile: forget, recreate, retry once.
        if ((error as { code?: string }).code !== NO_PARTITION_FOR_ROW) throw error;
        this.knownPartitions.clear();
        await this.ensurePartitions(days);
        inserted = await this.run(WRITE_POSTGRES, params);
      }
    }
    return { inserted, duplicates: valid.length - inserted, rejected };
  }

  private async run(sql: string, params: unknown[]): Promise<number> {
    const result = await this.pool.query<{ inserted: number }>(sql, params);
    return result.rows[0].inserted;
  }

  private async resolveDialect(): Promise<StorageDialect> {
    if (!this.dialect) {
      const recorded = await readRecordedDialect(this.pool);
      if (!recorded) throw new Error('the database has no storage schema yet: run `hes migrate` first');
      this.dialect = recorded;
    }
    return this.dialect;
  }

  /** Creates missing daily partitions before the insert, outside its transaction, so the insert never waits on DDL. */
  private async ensurePartitions(days: string[]): Promise<void> {
    const missing = days.filter((day) => !this.knownPartitions.has(day));
    if (missing.length === 0) return;
    await this.pool.query('SELECT readings_ensure_partitions($1::date[])', [missing]);
    for (const day of missing) this.knownPartitions.add(day);
  }
}

function toColumns(readings: readonly Reading[]): unknown[] {
  const n = readings.length;
  const meterIds = new Array<string>(n);
  const timestamps = new Array<number>(n);
  const quantities = new Array<string>(n);
  const storages = new Array<number>(n);
  const tariffs = new Array<number>(n);
  const units = new Array<string>(n);
  const values = new Array<number>(n);
  const sources = new Array<string>(n);
  const qualities = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const reading = readings[i];
    meterIds[i] = reading.meterId.toUpperCase();
    timestamps[i] = reading.ts.getTime();
    quantities[i] = reading.quantity;
    storages[i] = reading.storage;
    tariffs[i] = reading.tariff;
    units[i] = reading.unit;
    values[i] = reading.value;
    sources[i] = reading.source;
    qualities[i] = reading.quality ?? 0;
  }
  return [meterIds, timestamps, quantities, storages, tariffs, units, values, sources, qualities];
}
