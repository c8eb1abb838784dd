import type { Pool, PoolClient } from 'pg';
import { inTransaction } from './pool';
import type { StorageDialect } from './dialect';

type Queryable = Pick<Pool | PoolClient, 'query'>;

/** storage_settings key: readings_1d holds every series' days before this instant (UTC midnight, ISO 8601). */
export const DAILY_SUMMARY_WATERMARK_KEY = 'readings_1d_summarised_before';

/** The day before which readings_1d is complete (epoch ms), or null before the refresher's first run. */
export async function readDailySummaryWatermark(db: Queryable): Promise<number | null> {
  const result = await db.query<{ value: string }>(`SELECT value FROM storage_settings WHERE key = $1`, [
    DAILY_SUMMARY_WATERMARK_KEY,
  ]);
  return result.rows.length === 0 ? null : Date.parse(result.rows[0].value);
}

export interface DailySummaryReport {
  /** Days summarised for every series this run (the watermark moved past them). */
  daysSummarised: number;
  /**
   * Pending (meter, day) pairs removed: re-summarised when their day was summarised before this run, else
   * covered by this run's new days (writing history marks every day it touches).
   */
  pendingCleared: number;
}

const DAY_MS = 86_400_000;
/** A day is closed once no write transaction that began within it can still be running. */
const CLOSE_DELAY_MS = 10 * 60_000;
/** Days summarised per transaction: a first run over months of history commits day by day. */
const DAYS_PER_CHUNK = 1;
/** Pending (meter, day) pairs re-summarised per transaction. */
const PENDING_PER_CHUNK = 5_000;

/**
 * The day summary of every series with buckets in `rollups` (a FROM clause over readings_30m aliased r): the
 * window runs per series and UTC day, so lag() sees only the same day's previous bucket.
 */
const summarise = (rollups: string) => `
  INSERT INTO readings_1d (meter_id, quantity, storage, tariff, day, unit, first_ts, first_value, last_ts,
                           last_value, min_value, max_value, bucket_count, longest_silence, silence_starts,
                           silence_lengths, decreases, first_bucket_decreases)
  SELECT meter_id, quantity, storage, tariff, day,
         (array_agg(unit ORDER BY bucket DESC))[1],
         min(first_ts), (array_agg(first_value ORDER BY bucket))[1],
         max(last_ts), (array_agg(last_value ORDER BY bucket DESC))[1],
         min(min_value), max(max_value), count(*),
         max(silence),
         coalesce(array_agg(previous_last_ts ORDER BY bucket) FILTER (WHERE silence >= INTERVAL '1 hour'), '{}'),
         coalesce(array_agg(silence ORDER BY bucket) FILTER (WHERE silence >= INTERVAL '1 hour'), '{}'),
         count(*) FILTER (WHERE previous_last_value > first_value OR min_value < first_value
                                OR last_value < max_value),
         bool_or(previous_last_ts IS NULL AND (min_value < first_value OR last_value < max_value))
  FROM (
    SELECT r.bucket, r.meter_id, r.quantity, r.storage, r.tariff, r.unit, r.first_ts, r.first_value, r.last_ts,
           r.last_value, r.min_value, r.max_value, date_trunc('day', r.bucket, 'UTC') AS day,
           r.first_ts - lag(r.last_ts) OVER w AS silence,
           lag(r.last_ts) OVER w AS previous_last_ts,
           lag(r.last_value) OVER w AS previous_last_value
    FROM ${rollups}
    WINDOW w AS (PARTITION BY r.meter_id, r.quantity, r.storage, r.tariff, date_trunc('day', r.bucket, 'UTC')
                 ORDER BY r.bucket)
  ) s
  GROUP BY meter_id, quantity, storage, tariff, day`;

/** Every series' days in [$1, $2) (whole UTC days). */
const SUMMARISE_DAYS = summarise(
  `readings_30m r WHERE r.bucket >= $1::timestamptz AND r.bucket < $2::timestamptz`,
);
/** (meter, day) pairs given as parallel arrays $1 and $2. */
const PAIRS = `unnest($1::text[], $2::timestamptz[]) AS p(meter_id, day)`;
/** The days $2 of meters $1. */
const SUMMARISE_PAIRS = summarise(`
  ${PAIRS}
  JOIN readings_30m r ON r.meter_id = p.meter_id AND r.bucket >= p.day AND r.bucket < p.day + INTERVAL '24 hours'`);

interface PendingPair {
  meterId: string;
  day: Date;
  mark: string;
}

/**
 * Keeps readings_1d (see its migration) up to date from readings_30m; run from StorageMaintenance.run() in one
 * process per database.
 *
 * Closed days (day + 1 day + 10 minutes < now: no write transaction lasts 10 minutes) are summarised once, a
 * day per transaction together with the watermark. Later, back-dated writes mark (meter, day) pending in their
 * own insert statement (ReadingWriter) and are re-summarised here.
 *
 * Why a marking is never lost, with a writer running concurrently:
 * 1. The pending pairs and their marks are read first (committed markings only). Every reading they stand for
 *    was committed before this read, because the writer marks in the same transaction as it inserts.
 * 2. TimescaleDB only: readings_30m is refreshed over the pending and new days. A back-dated write lands below
 *    the continuous aggregate's materialisation watermark, where real-time aggregation does not look, so the
 *    invalidated buckets must be re-materialised before they are read. Everything read in step 1 is visible to
 *    this refresh; a write committed after step 1 may not be, but its marking is not in the snapshot.
 * 3. Per chunk, one transaction locks the snapshot's pending rows FOR UPDATE and keeps only those whose mark is
 *    still the snapshot's, re-summarises those pairs from readings_30m (a statement started after the lock, so
 *    it sees every write committed before), and deletes them. A writer marking one of them again either
 *    committed before the lock (its new mark keeps the row pending for the next run), or its
 *    ON CONFLICT DO UPDATE waits for the lock and, once this transaction deleted the row, inserts a fresh
 *    marking that the next run picks up; a writer marking a new pair inserts a row this run never locked.
 */
export class DailySummaryRefresher {
  constructor(
    private readonly pool: Pool,
    private readonly dialect: StorageDialect,
  ) {}

  async refresh(nowMs: number): Promise<DailySummaryReport> {
    const closedBeforeMs = Math.ceil((nowMs - DAY_MS - CLOSE_DELAY_MS) / DAY_MS) * DAY_MS;
    const watermarkMs =
      (await readDailySummaryWatermark(this.pool)) ?? (await this.firstDayMs(closedBeforeMs));
    const pending = await this.pendingBefore(closedBeforeMs);
    if (this.dialect === 'timescaledb') {
      const oldestMs = pending.reduce((oldest, pair) => Math.min(oldest, pair.day.getTime()), watermarkMs);
      await this.refreshRollups(oldestMs, closedBeforeMs);
    }
    let daysSummarised = 0;
    for (let dayMs = watermarkMs; dayMs < closedBeforeMs; dayMs += DAYS_PER_CHUNK * DAY_MS) {
      const untilMs = Math.min(dayMs + DAYS_PER_CHUNK * DAY_MS, closedBeforeMs);
      await this.summariseDays(dayMs, untilMs);
      daysSummarised += (untilMs - dayMs) / DAY_MS;
    }
    let pendingCleared = 0;
    for (let i = 0; i < pending.length; i += PENDING_PER_CHUNK) {
      pendingCleared += await this.clearPending(pending.slice(i, i + PENDING_PER_CHUNK), watermarkMs);
    }
    return { daysSummarised, pendingCleared };
  }

  /** Where a database summarised for the first time starts: the day of its oldest rollup. */
  private async firstDayMs(closedBeforeMs: number): Promise<number> {
    const result = await this.pool.query<{ oldest_ms: string | null }>(
      `SELECT (extract(epoch FROM date_trunc('day', min(bucket), 'UTC')) * 1000)::bigint AS oldest_ms
       FROM readings_30m`,
    );
    const oldest = result.rows[0].oldest_ms;
    return oldest === null ? closedBeforeMs : Math.min(Number(oldest), closedBeforeMs);
  }

  private async pendingBefore(closedBeforeMs: number): Promise<PendingPair[]> {
    const result = await this.pool.query<{ meter_id: string; day: Date; mark: string }>(
      `SELECT meter_id, day, mark FROM readings_1d_pending WHERE day < $1 ORDER BY meter_id, day`,
      [new Date(closedBeforeMs)],
    );
    return result.rows.map((row) => ({ meterId: row.meter_id, day: row.day, mark: row.mark }));
  }

  /** TimescaleDB: re-materialises invalidated buckets in [fromMs, untilMs) (a no-op where nothing changed). */
  private async refreshRollups(fromMs: number, untilMs: number): Promise<void> {
    if (fromMs >= untilMs) return;
    await this.pool.query(
      `CALL refresh_continuous_aggregate('readings_30m', $1::timestamptz, $2::timestamptz)`,
      [new Date(fromMs), new Date(untilMs)],
    );
  }

  private async summariseDays(fromMs: number, untilMs: number): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      const range = [new Date(fromMs), new Date(untilMs)];
      await client.query(`DELETE FROM readings_1d WHERE day >= $1 AND day < $2`, range);
      await client.query(SUMMARISE_DAYS, range);
      await client.query(
        `INSERT INTO storage_settings (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
        [DAILY_SUMMARY_WATERMARK_KEY, new Date(untilMs).toISOString()],
      );
    });
  }

  /**
   * Step 3 of the class comment for one chunk of the snapshot; returns the pairs removed. Pairs of days from
   * `newDaysFromMs` on were summarised whole by this run after the snapshot was read: they are only removed.
   */
  private async clearPending(snapshot: readonly PendingPair[], newDaysFromMs: number): Promise<number> {
    return inTransaction(this.pool, async (client) => {
      const locked = await client.query<{ meter_id: string; day: Date }>(
        `SELECT p.meter_id, p.day
         FROM readings_1d_pending p
         JOIN unnest($1::text[], $2::timestamptz[], $3::bigint[]) AS s(meter_id, day, mark)
           ON p.meter_id = s.meter_id AND p.day = s.day
         WHERE p.mark = s.mark
         ORDER BY p.meter_id, p.day
         FOR UPDATE OF p`,
        [
          snapshot.map((pair) => pair.meterId),
          snapshot.map((pair) => pair.day),
          snapshot.map((pair) => pair.mark),
        ],
      );
      const stale = locked.rows.filter((row) => row.day.getTime() < newDaysFromMs);
      if (stale.length > 0) {
        const pairs = [stale.map((row) => row.meter_id), stale.map((row) => row.day)];
        await client.query(
          `DELETE FROM readings_1d d USING ${PAIRS} WHERE d.meter_id = p.meter_id AND d.day = p.day`,
          pairs,
        );
        await client.query(SUMMARISE_PAIRS, pairs);
      }
      await client.query(
        `DELETE FROM readings_1d_pending d USING ${PAIRS} WHERE d.meter_id = p.meter_id AND d.day = p.day`,
        [locked.rows.map((row) => row.meter_id), locked.rows.map((row) => row.day)],
      );
      return locked.rows.length;
    });
  }
}
