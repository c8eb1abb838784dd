import { canAccessSociety, scopeToSocieties, type Principal } from '@hes/auth';
import type { Pool } from 'pg';
import { MeterTenancyCache } from './meter-tenancy-cache';

export interface MeterRef {
  meterId: string;
  societyId: string | null;
  groupId: number;
  /**
   * The meter's history floor (meters.history_from, whole milliseconds): its readings, rollups, events and
   * commands before it belong to a society that owned the meter id before, and are not shown. null: all shown.
   */
  historyFrom: Date | null;
}

/** A raw reading as the API returns it; `tsUs` (epoch microseconds) is the cursor position. */
export interface RawReadingRow {
  tsUs: number;
  quantity: string;
  storage: number;
  tariff: number;
  unit: string;
  value: number;
  source: string;
  quality: number;
}

/** Position after which a page continues, in the page order (ts, quantity, storage, tariff). */
export interface ReadingPosition {
  tsUs: number;
  quantity: string;
  storage: number;
  tariff: number;
}

export type AggregateInterval = '30m' | '1h' | '1d' | '1mo';

export interface AggregateRow {
  quantity: string;
  storage: number;
  tariff: number;
  unit: string;
  startMs: number;
  firstMs: number;
  first: number;
  lastMs: number;
  last: number;
  min: number;
  max: number;
  sum: number;
  count: number;
}

/** One register series of a meter: the natural key without the meter and the time. */
export interface Series {
  quantity: string;
  storage: number;
  tariff: number;
}

/** One 30-minute rollup row near a boundary: bucket start and the first/last reading in it. */
export interface BucketEdge {
  meterId: string;
  bucketUs: number;
  unit: string;
  firstUs: number;
  firstValue: number;
  lastUs: number;
  lastValue: number;
}

export interface RegisterPoint {
  meterId: string;
  tsUs: number;
  unit: string;
  value: number;
}

/** Microseconds since the epoch as text (bigint), exact for any timestamptz. */
export const US = (column: string) => `(extract(epoch FROM ${column}) * 1000000)::bigint`;
/** A timestamptz from epoch microseconds given as a bigint parameter. */
export const FROM_US = (param: string) =>
  `(TIMESTAMPTZ 'epoch' + ${param}::bigint * INTERVAL '1 microsecond')`;

/**
 * Joined to a list of meter ids `m(meter_id)`: each meter's row as `history`, for its history floor (meters.history_from).
 * A left join, as the ids were resolved through a tenancy-scoped lookup already; an id no longer registered has
 * no floor.
 */
export const HISTORY_FLOOR_JOIN = 'LEFT JOIN meters history ON history.meter_id = m.meter_id';
/** The floor of HISTORY_FLOOR_JOIN as a lower bound for a time column (everything when the meter has none). */
export const HISTORY_FLOOR = `coalesce(history.history_from, '-infinity')`;

const BUCKET_EXPRESSIONS: Record<AggregateInterval, string> = {
  '30m': 'bucket',
  '1h': `date_trunc('hour', bucket, $6)`,
  '1d': `date_trunc('day', bucket, $6)`,
  '1mo': `date_trunc('month', bucket, $6)`,
};

/**
 * Reads readings and their 30-minute rollups. Every meter id given here has already been resolved through a
 * tenancy-scoped lookup (findMeter / metersOf*), so the queries below filter by meter only.
 */
export class ReadingsRepository {
  constructor(
    private readonly pool: Pool,
    /** Without one started by the app (ApiModule), nothing is remembered: every lookup reads the database. */
    private readonly meterTenancy: MeterTenancyCache = new MeterTenancyCache(pool),
  ) {}

  /**
   * The meter if it is in the principal's societies. Its society and group come from the MeterTenancyCache
   * (in memory while PostgreSQL notifies changes, else the database) and are checked against the principal
   * here, so latest-value and raw reads are answered without a database round trip for tenancy; a move to
   * another society, or a delete, takes effect as soon as PostgreSQL's notification of its commit has arrived.
   */
  async findMeter(principal: Principal, meterId: string): Promise<MeterRef | undefined> {
    const meter = await this.meterTenancy.get(meterId);
    return meter !== undefined && canAccessSociety(principal, meter.societyId) ? meter : undefined;
  }

  /** Whether a meter group exists (groups are shared, not tenant data). */
  async groupExists(groupId: number): Promise<boolean> {
    const result = await this.pool.query('SELECT 1 FROM meter_groups WHERE id = $1', [groupId]);
    return result.rowCount === 1;
  }

  /** Meter ids of a society in id order, after `afterMeterId`, at most `limit`. */
  async metersOfSociety(societyId: string, afterMeterId: string, limit: number): Promise<string[]> {
    const result = await this.pool.query<{ meter_id: string }>(
      `SELECT meter_id FROM meters WHERE society_id = $1 AND meter_id > $2 ORDER BY meter_id LIMIT $3`,
      [societyId, afterMeterId, limit],
    );
    return result.rows.map((row) => row.meter_id);
  }

  /** The caller's meters of a group in id order, after `afterMeterId`, at most `limit`. */
  async metersOfGroup(
    principal: Principal,
    groupId: number,
    afterMeterId: string,
    limit: number,
  ): Promise<string[]> {
    const scope = scopeToSocieties(principal, 'society_id', 4);
    const result = await this.pool.query<{ meter_id: string }>(
      `SELECT meter_id FROM meters WHERE group_id = $1 AND meter_id > $2 AND ${scope.sql}
       ORDER BY meter_id LIMIT $3`,
      [groupId, afterMeterId, limit, ...scope.params],
    );
    return result.rows.map((row) => row.meter_id);
  }

  /**
   * Readings of one meter with from <= ts < to and ts >= historyFrom (the meter's floor), in (ts, quantity,
   * storage, tariff) order, after `after`.
   * The primary key (meter_id, quantity, storage, tariff, ts) with daily partitions/chunks pruned by ts keeps
   * this to the meter's rows of the days asked for, read from the key alone (it INCLUDEs the other columns read
   * here); they are sorted in memory, which is cheap per page. After a cursor, the cursor's millisecond is also a
   * lower bound on ts: implied by the row comparison, but a plain timestamp the planner prunes partitions with, so a
   * later page of a long period reads only the days from the cursor on instead of every day before it again.
   */
  async rawPage(
    meterId: string,
    fromMs: number,
    toMs: number,
    quantities: readonly string[] | undefined,
    after: ReadingPosition | undefined,
    limit: number,
    historyFrom: Date | null,
  ): Promise<RawReadingRow[]> {
    const params: unknown[] = [meterId, new Date(fromMs), new Date(toMs), limit];
    let where = 'meter_id = $1 AND ts >= $2 AND ts < $3';
    if (historyFrom !== null) {
      params.push(historyFrom);
      where += ` AND ts >= $${params.length}`;
    }
    if (quantities) {
      params.push(quantities);
      where += ` AND quantity = ANY($${params.length}::text[])`;
    }
    if (after) {
      params.push(
        String(after.tsUs),
        after.quantity,
        after.storage,
        after.tariff,
        new Date(Math.floor(after.tsUs / 1000)),
      );
      const n = params.length;
      where += ` AND (ts, quantity, storage, tariff) > (${FROM_US(`$${n - 4}`)}, $${n - 3}, $${n - 2}, $${n - 1})`;
      where += ` AND ts >= $${n}`;
    }
    const result = await this.pool.query<RawReadingRow & { tsUs: string }>(
      `SELECT ${US('ts')} AS "tsUs", quantity, storage, tariff, unit, value, source, quality
       FROM readings WHERE ${where}
       ORDER BY ts, quantity, storage, tariff
       LIMIT $4`,
      params,
    );
    return result.rows.map((row) => ({ ...row, tsUs: Number(row.tsUs) }));
  }

  /**
   * Buckets of `interval` combined from readings_30m: first/last are those of the earliest/latest reading, min
   * and max over all, sum and count added (so avg = sum / count is weighted by readings, not by buckets).
   * Days and months start at midnight in `timeZone`. Only rollups wholly at or after historyFrom (the meter's
   * floor) count: a rollup whose first reading is older may hold a previous owner's readings.
   */
  async aggregates(
    meterId: string,
    interval: AggregateInterval,
    fromMs: number,
    toMs: number,
    quantities: readonly string[] | undefined,
    timeZone: string,
    historyFrom: Date | null,
  ): Promise<AggregateRow[]> {
    const result = await this.pool.query<Record<keyof AggregateRow, string | number>>(
      `SELECT quantity, storage, tariff, unit,
              (extract(epoch FROM b) * 1000)::float8 AS "startMs",
              (extract(epoch FROM min(first_ts)) * 1000)::float8 AS "firstMs",
              (array_agg(first_value ORDER BY first_ts))[1] AS first,
              (extract(epoch FROM max(last_ts)) * 1000)::float8 AS "lastMs",
              (array_agg(last_value ORDER BY last_ts DESC))[1] AS last,
              min(min_value) AS min, max(max_value) AS max, sum(sum_value) AS sum,
              sum(reading_count)::float8 AS count
       FROM (
         SELECT ${BUCKET_EXPRESSIONS[interval]} AS b, *
         FROM readings_30m
         WHERE meter_id = $1 AND bucket >= $2 AND bucket < $3
           AND ($4::text[] IS NULL OR quantity = ANY($4::text[]))
           AND ($5::timestamptz IS NULL OR first_ts >= $5)
       ) r
       GROUP BY quantity, storage, tariff, unit, b
       ORDER BY quantity, storage, tariff, unit, b`,
      interval === '30m'
        ? [meterId, new Date(fromMs), new Date(toMs), quantities ?? null, historyFrom]
        : [meterId, new Date(fromMs), new Date(toMs), quantities ?? null, historyFrom, timeZone],
    );
    return result.rows.map((row) => ({
      quantity: String(row.quantity),
      storage: Number(row.storage),
      tariff: Number(row.tariff),
      unit: String(row.unit),
      startMs: Number(row.startMs),
      firstMs: Number(row.firstMs),
      first: Number(row.first),
      lastMs: Number(row.lastMs),
      last: Number(row.last),
      min: Number(row.min),
      max: Number(row.max),
      sum: Number(row.sum),
      count: Number(row.count),
    }));
  }

  /**
   * Per meter, the two newest 30-minute rollups of a series starting at or before `atUs` (newest first): the
   * boundary register is almost always the last reading of one of them, found without touching raw readings.
   * Uses the rollups' (meter_id, quantity, storage, tariff, bucket) index, one short descent per meter.
   * Like every set-based lookup here, it sees only rollups wholly at or after the meter's history floor.
   */
  async bucketsAtOrBefore(meterIds: readonly string[], series: Series, atUs: number): Promise<BucketEdge[]> {
    return this.bucketEdges(
      meterIds,
      series,
      `r.bucket <= ${FROM_US('$5')} ORDER BY r.bucket DESC LIMIT 2`,
      atUs,
    );
  }

  /** Per meter, the oldest 30-minute rollup of a series starting after `atUs`. */
  async firstBucketAfter(meterIds: readonly string[], series: Series, atUs: number): Promise<BucketEdge[]> {
    return this.bucketEdges(meterIds, series, `r.bucket > ${FROM_US('$5')} ORDER BY r.bucket LIMIT 1`, atUs);
  }

  /**
   * Per meter, the last raw reading of a series with lowerUs[i] <= ts <= atUs: used only for meters whose
   * boundary falls inside a rollup bucket that has readings on both sides of it (one bucket of raw rows each).
   */
  async lastReadingBetween(
    meterIds: readonly string[],
    lowerUs: readonly number[],
    series: Series,
    atUs: number,
  ): Promise<RegisterPoint[]> {
    if (meterIds.length === 0) return [];
    const result = await this.pool.query<{ meter_id: string; ts_us: string; unit: string; value: number }>(
      `SELECT m.meter_id, x.ts_us, x.unit, x.value
       FROM unnest($1::text[], $2::bigint[]) AS m(meter_id, lower_us)
       ${HISTORY_FLOOR_JOIN}
       CROSS JOIN LATERAL (
         SELECT ${US('ts')} AS ts_us, unit, value FROM readings
         WHERE meter_id = m.meter_id AND quantity = $3 AND storage = $4 AND tariff = $5
           AND ts >= ${FROM_US('m.lower_us')} AND ts <= ${FROM_US('$6')} AND ts >= ${HISTORY_FLOOR}
         ORDER BY ts DESC LIMIT 1
       ) x`,
      [meterIds, lowerUs.map(String), series.quantity, series.storage, series.tariff, String(atUs)],
    );
    return result.rows.map((row) => ({
      meterId: row.meter_id,
      tsUs: Number(row.ts_us),
      unit: row.unit,
      value: row.value,
    }));
  }

  private async bucketEdges(
    meterIds: readonly string[],
    series: Series,
    condition: string,
    atUs: number,
  ): Promise<BucketEdge[]> {
    if (meterIds.length === 0) return [];
    const result = await this.pool.query<{
      meter_id: string;
      bucket_us: string;
      unit: string;
      first_us: string;
      first_value: number;
      last_us: string;
      last_value: number;
    }>(
      `SELECT m.meter_id, ${US('r.bucket')} AS bucket_us, r.unit,
              ${US('r.first_ts')} AS first_us, r.first_value, ${US('r.last_ts')} AS last_us, r.last_value
       FROM unnest($1::text[]) WITH ORDINALITY AS m(meter_id, n)
       ${HISTORY_FLOOR_JOIN}
       CROSS JOIN LATERAL (
         SELECT bucket, unit, first_ts, first_value, last_ts, last_value FROM readings_30m r
         WHERE r.meter_id = m.meter_id AND r.quantity = $2 AND r.storage = $3 AND r.tariff = $4
           AND r.first_ts >= ${HISTORY_FLOOR} AND ${condition}
       ) r
       ORDER BY m.n, r.bucket DESC`,
      [meterIds, series.quantity, series.storage, series.tariff, String(atUs)],
    );
    return result.rows.map((row) => ({
      meterId: row.meter_id,
      bucketUs: Number(row.bucket_us),
      unit: row.unit,
      firstUs: Number(row.first_us),
      firstValue: row.first_value,
      lastUs: Number(row.last_us),
      lastValue: row.last_value,
    }));
  }
}
