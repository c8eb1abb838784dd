import { readDailySummaryWatermark } from '@hes/storage';
import type { Pool } from 'pg';
import { FROM_US, HISTORY_FLOOR_JOIN, US, type Series } from './readings.repository';

/** Gaps and decreases of one meter's register over a period. */
export interface SeriesHealth {
  meterId: string;
  gapCount: number;
  longestGapUs: number;
  firstGapStartUs: number | null;
  decreases: number;
  /** First reading of the first bucket looked at. */
  headUs: number;
  headValue: number;
}

/** A row of a series-health query (bigint microseconds and counts arrive as text). */
export interface SeriesHealthRow {
  meter_id: string;
  gap_count: string;
  longest_gap_us: string | null;
  first_gap_start_us: string | null;
  decreases: string;
  head_us: string;
  head_value: number;
}

export const seriesHealthOfRow = (row: SeriesHealthRow): SeriesHealth => ({
  meterId: row.meter_id,
  gapCount: Number(row.gap_count),
  longestGapUs: row.longest_gap_us === null ? 0 : Number(row.longest_gap_us),
  firstGapStartUs: row.first_gap_start_us === null ? null : Number(row.first_gap_start_us),
  decreases: Number(row.decreases),
  headUs: Number(row.head_us),
  headValue: row.head_value,
});

/** Where the day summaries (readings_1d) stand in for the 30-minute rollups of a period, epoch microseconds. */
export interface SummarisedDays {
  /** Rollups in [bucketsFromUs, daysFromUs) and from daysUntilUs on are read from readings_30m. */
  bucketsFromUs: number;
  /** Whole UTC days in [daysFromUs, daysUntilUs) come from readings_1d, except a meter's pending days. */
  daysFromUs: number;
  daysUntilUs: number;
}

const US_PER_MS = 1000;
const BUCKET_US = 30 * 60 * 1_000_000;
const DAY_US = 86_400_000_000;

const GAP = `$7::bigint * INTERVAL '1 microsecond'`;

/** A 30-minute rollup as a segment of the series: no inner silence; it decreases by itself or not at all. */
const BUCKET_SEGMENT = `r.first_ts, r.first_value, r.last_ts, r.last_value, NULL::interval AS longest_silence,
  0 AS inner_gaps, NULL::timestamptz AS first_inner_gap_start,
  (r.min_value < r.first_value OR r.last_value < r.max_value)::int AS decreases,
  (r.min_value < r.first_value OR r.last_value < r.max_value) AS first_bucket_decreases`;
/**
 * The meter's history floor (HISTORY_FLOOR_JOIN): only rollups wholly at or after it are part of the series (an older
 * first reading may be a previous owner's), only summarised days starting at or after it, and the buckets of
 * the day it falls in come one by one (FLOOR_DAY_BUCKETS).
 */
const FLOOR_DAY = `date_bin(INTERVAL '24 hours', history.history_from, TIMESTAMPTZ 'epoch')`;
const BUCKET_FROM_FLOOR = `(history.history_from IS NULL OR r.first_ts >= history.history_from)`;
const DAY_FROM_FLOOR = `(history.history_from IS NULL OR d.day >= history.history_from)`;
const SERIES_OF = (table: string) =>
  `${table}.meter_id = m.meter_id AND ${table}.quantity = $2 AND ${table}.storage = $3 AND ${table}.tariff = $4`;
const PENDING_DAY_OF_METER = `p.meter_id = m.meter_id AND p.day >= ${FROM_US('$8')} AND p.day < ${FROM_US('$9')}`;

/**
 * The bucket-level definition (what the readings_1d summaries reproduce): the series is the ordered list of
 * its 30-minute buckets from the bucket of `from` to `to`; a silence is a bucket's first reading minus the
 * previous bucket's last, a gap a silence longer than the threshold; a decrease is a bucket whose min < first,
 * or last < max, or whose previous bucket ended above its first value.
 * Here the list is made of segments: whole summarised days (readings_1d, their inner silences and decreases
 * precomputed) and single buckets (the partial first and last days, days not summarised yet, and a meter's
 * pending back-dated days). Between consecutive segments the same silence and decrease rules apply; a
 * segment's first bucket that decreases by itself is not counted again for its predecessor.
 */
const SERIES_HEALTH = `
  SELECT m.meter_id, h.*
  FROM unnest($1::text[]) AS m(meter_id)
  ${HISTORY_FLOOR_JOIN}
  CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE silence > ${GAP}) + coalesce(sum(inner_gaps), 0) AS gap_count,
           ${US('greatest(max(silence), max(longest_silence))')} AS longest_gap_us,
           ${US(`least(min(previous_last_ts) FILTER (WHERE silence > ${GAP}), min(first_inner_gap_start))`)}
             AS first_gap_start_us,
           sum(decreases + CASE WHEN NOT first_bucket_decreases AND previous_last_value > first_value
                                THEN 1 ELSE 0 END) AS decreases,
           ${US('min(first_ts)')} AS head_us,
           max(first_value) FILTER (WHERE previous_last_ts IS NULL) AS head_value
    FROM (
      SELECT seg.*,
             seg.first_ts - lag(seg.last_ts) OVER w AS silence,
             lag(seg.last_ts) OVER w AS previous_last_ts,
             lag(seg.last_value) OVER w AS previous_last_value
      FROM (
        SELECT d.first_ts, d.first_value, d.last_ts, d.last_value, d.longest_silence, g.inner_gaps,
               g.first_inner_gap_start, d.decreases, d.first_bucket_decreases
        FROM readings_1d d
        -- The silence arrays (outside the covering primary key) only of days whose longest silence is a gap.
        CROSS JOIN LATERAL (
          SELECT count(*) AS inner_gaps, min(l.start) AS first_inner_gap_start
          FROM readings_1d x
          CROSS JOIN unnest(x.silence_starts, x.silence_lengths) AS l(start, length)
          WHERE d.longest_silence > ${GAP} AND x.meter_id = d.meter_id AND x.quantity = d.quantity
            AND x.storage = d.storage AND x.tariff = d.tariff AND x.day = d.day AND l.length > ${GAP}
        ) g
        WHERE ${SERIES_OF('d')} AND d.day >= ${FROM_US('$8')} AND d.day < ${FROM_US('$9')} AND ${DAY_FROM_FLOOR}
          AND NOT EXISTS (SELECT 1 FROM readings_1d_pending p WHERE ${PENDING_DAY_OF_METER} AND p.day = d.day)
        UNION ALL
        SELECT ${BUCKET_SEGMENT} FROM readings_30m r
        WHERE ${SERIES_OF('r')} AND r.bucket >= ${FROM_US('$5')} AND r.bucket < ${FROM_US('$8')}
          AND ${BUCKET_FROM_FLOOR}
        UNION ALL
        SELECT ${BUCKET_SEGMENT} FROM readings_30m r
        WHERE ${SERIES_OF('r')} AND r.bucket >= ${FROM_US('$9')}
          AND r.bucket <= ${FROM_US('$6')} AND r.first_ts <= ${FROM_US('$6')} AND ${BUCKET_FROM_FLOOR}
        UNION ALL
        SELECT ${BUCKET_SEGMENT} FROM readings_1d_pending p
        JOIN readings_30m r ON ${SERIES_OF('r')} AND r.bucket >= p.day AND r.bucket < p.day + INTERVAL '24 hours'
        WHERE ${PENDING_DAY_OF_METER} AND ${BUCKET_FROM_FLOOR}
        UNION ALL
        -- The summarised day the floor falls in (not at its midnight): its buckets from the floor on.
        SELECT ${BUCKET_SEGMENT} FROM readings_30m r
        WHERE ${SERIES_OF('r')} AND history.history_from > ${FLOOR_DAY}
          AND ${FLOOR_DAY} >= ${FROM_US('$8')} AND ${FLOOR_DAY} < ${FROM_US('$9')}
          AND r.bucket >= ${FLOOR_DAY} AND r.bucket < ${FLOOR_DAY} + INTERVAL '24 hours'
          AND r.first_ts >= history.history_from
          AND NOT EXISTS (SELECT 1 FROM readings_1d_pending p WHERE ${PENDING_DAY_OF_METER} AND p.day = ${FLOOR_DAY})
      ) seg
      WINDOW w AS (ORDER BY seg.first_ts)
    ) s
    HAVING count(*) > 0
  ) h`;

/**
 * Gap and decrease evaluation of register series over billing periods, from the day summaries (readings_1d)
 * for whole summarised days and the 30-minute rollups for the rest: a month costs ~30 rows per meter instead
 * of ~1,440. Every meter id given here has already been resolved through a tenancy-scoped lookup.
 */
export class SeriesHealthRepository {
  constructor(private readonly pool: Pool) {}

  /**
   * Which part of the period [fromUs, toUs] the day summaries answer: the whole UTC days from the first
   * midnight at or after the bucket of `from` that end by `to` and lie before the refresher's watermark.
   */
  async summarisedDays(fromUs: number, toUs: number): Promise<SummarisedDays> {
    const watermarkMs = await readDailySummaryWatermark(this.pool);
    const bucketsFromUs = Math.floor(fromUs / BUCKET_US) * BUCKET_US;
    const daysFromUs = Math.ceil(bucketsFromUs / DAY_US) * DAY_US;
    const daysUntilUs = Math.min(
      Math.floor(toUs / DAY_US) * DAY_US,
      watermarkMs === null ? -Infinity : watermarkMs * US_PER_MS,
    );
    return daysUntilUs > daysFromUs
      ? { bucketsFromUs, daysFromUs, daysUntilUs }
      : { bucketsFromUs, daysFromUs: bucketsFromUs, daysUntilUs: bucketsFromUs };
  }

  /**
   * Gaps (silences longer than gapUs) and decreases of each meter's series over the period that `days` was
   * computed for (summarisedDays(from, toUs)), with the first reading looked at so the caller can join the
   * period's start register to it. Meters without rollups in the period are absent.
   */
  async seriesHealth(
    meterIds: readonly string[],
    series: Series,
    toUs: number,
    gapUs: number,
    days: SummarisedDays,
  ): Promise<SeriesHealth[]> {
    if (meterIds.length === 0) return [];
    const client = await this.pool.connect();
    try {
      // The planner's estimate for thousands of lateral lookups crosses the JIT threshold, and compiling the
      // query costs more than running it (≈ 140 ms per chunk): JIT off for this transaction only.
      await client.query('BEGIN; SET LOCAL jit = off');
      const result = await client.query<SeriesHealthRow>(SERIES_HEALTH, [
        meterIds,
        series.quantity,
        series.storage,
        series.tariff,
        String(days.bucketsFromUs),
        String(toUs),
        String(gapUs),
        String(days.daysFromUs),
        String(days.daysUntilUs),
      ]);
      await client.query('COMMIT');
      return result.rows.map(seriesHealthOfRow);
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  }
}
