/**
 * Billing-period gaps and decreases from the day summaries (readings_1d) must answer exactly what the scan of
 * every 30-minute rollup of the period answers, on both storage dialects: before any summary, with part of the
 * days summarised, with back-dated writes pending re-summarisation, and after the refresher caught up.
 */
import {
  DailySummaryRefresher,
  ReadingWriter,
  StorageMaintenance,
  runMigrations,
  type Reading,
  type StorageDialect,
} from '@hes/storage';
import type { Pool } from 'pg';
import { startPgliteTimescale } from '../../../../libs/storage/test/pglite-server';
import { createTestDatabase } from '../../../../libs/storage/test/postgres-database';
import { registerReading } from '../../../../libs/storage/test/readings-fixture';
import { FROM_US, US, type Series } from './readings.repository';
import {
  SeriesHealthRepository,
  seriesHealthOfRow,
  type SeriesHealth,
  type SeriesHealthRow,
} from './series-health.repository';

jest.setTimeout(180_000);

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const SERIES: Series = { quantity: 'total_m3', storage: 0, tariff: 0 };
const METERS = ['CD000001', 'CD000002', 'CD000003', 'CD000004', 'CD000005'];
/** Day 0 of the data: eight days ago, so every day of it is closed and back-dated writes are marked pending. */
const BASE = Math.floor(Date.now() / DAY) * DAY - 8 * DAY;
const at = (day: number, hours: number, minutes = 0) => BASE + day * DAY + hours * HOUR + minutes * MINUTE;

const reading = registerReading;

/** Readings every `stepMs` in [fromMs, untilMs), rising by 0.01 from `value`, except in the silent ranges. */
function series(
  meterId: string,
  fromMs: number,
  untilMs: number,
  stepMs: number,
  value: number,
  silent: [number, number][] = [],
): Reading[] {
  const readings: Reading[] = [];
  for (let ts = fromMs, v = value; ts < untilMs; ts += stepMs, v += 0.01) {
    if (!silent.some(([from, until]) => ts >= from && ts < until)) readings.push(reading(meterId, ts, v));
  }
  return readings;
}

/** Gaps inside days and across midnights, decreases inside buckets, between buckets and across midnight. */
const INITIAL: Reading[] = [
  ...series('CD000001', at(0, 0, 5), at(6, 12), 20 * MINUTE, 100, [
    [at(1, 2), at(1, 4, 30)],
    [at(2, 22), at(3, 3)],
    [at(4, 9), at(4, 16)],
  ]).map((r) => (r.ts.getTime() === at(3, 10, 25) ? { ...r, value: r.value - 5 } : r)),
  // A drop at the first reading of day 4: a decrease across midnight between day rows.
  reading('CD000001', at(4, 0, 1), 1),
  reading('CD000001', at(2, 0, 5), 10, 'target_m3', 1),
  ...series('CD000002', at(0, 0), at(7, 0), HOUR, 500, [[at(2, 3), at(2, 9)]]),
  // One reading a day: single-bucket days, 24-hour silences between day rows only.
  ...[0, 1, 2, 3, 5, 6].map((day) => reading('CD000004', at(day, 12), 7 + day)),
  // Day 2's first bucket goes down by itself and also starts below day 1's end: one decrease, not two.
  ...series('CD000005', at(0, 6), at(2, 0), 30 * MINUTE, 60),
  reading('CD000005', at(2, 0, 0), 50),
  reading('CD000005', at(2, 0, 10), 40),
  ...series('CD000005', at(2, 1), at(5, 0), 30 * MINUTE, 41),
];

/** After the days were summarised: a gap of meter 2 filled in part, a rollback of meter 2, a new day of meter 4. */
const BACKDATED: Reading[] = [
  ...series('CD000002', at(2, 4, 10), at(2, 6), 20 * MINUTE, 502),
  reading('CD000002', at(3, 13, 30), 400),
  reading('CD000004', at(4, 12), 3),
];

/** Periods starting and ending mid-day, on midnights, inside one day, around all of the data. */
const PERIODS: [from: number, to: number][] = [
  [at(0, 7, 13), at(6, 11, 47)],
  [at(1, 0), at(5, 0)],
  [at(2, 23, 50), at(3, 0, 20)],
  [at(3, 10), at(3, 18)],
  [at(-2, 0), at(10, 0)],
  [at(1, 12, 15), at(4, 0, 1)],
  [at(0, 0, 5), at(2, 23, 59)],
];
const GAP_HOURS = [1, 2, 4.5, 24];

/**
 * The reference: the bucket-by-bucket scan of the period's 30-minute rollups, as the API computed it before,
 * of the rollups wholly at or after the meter's history floor (meters.history_from, when it is registered).
 */
async function scanOfRollups(
  pool: Pool,
  fromUs: number,
  toUs: number,
  gapUs: number,
): Promise<SeriesHealth[]> {
  const result = await pool.query<SeriesHealthRow>(
    `SELECT m.meter_id, h.*
     FROM unnest($1::text[]) AS m(meter_id)
     CROSS JOIN LATERAL (
       SELECT count(*) FILTER (WHERE gap > $7::bigint * INTERVAL '1 microsecond') AS gap_count,
              ${US('max(gap)')} AS longest_gap_us,
              ${US(`min(previous_last_ts) FILTER (WHERE gap > $7::bigint * INTERVAL '1 microsecond')`)}
                AS first_gap_start_us,
              count(*) FILTER (WHERE previous_last_value > first_value OR min_value < first_value
                                  OR last_value < max_value) AS decreases,
              ${US('min(first_ts)')} AS head_us,
              max(first_value) FILTER (WHERE previous_last_ts IS NULL) AS head_value
       FROM (
         SELECT r.first_ts, r.first_value, r.min_value, r.max_value, r.last_value,
                r.first_ts - lag(r.last_ts) OVER w AS gap,
                lag(r.last_ts) OVER w AS previous_last_ts,
                lag(r.last_value) OVER w AS previous_last_value
         FROM readings_30m r
         WHERE r.meter_id = m.meter_id AND r.quantity = $2 AND r.storage = $3 AND r.tariff = $4
           AND r.bucket >= date_bin(INTERVAL '30 minutes', ${FROM_US('$5')}, TIMESTAMPTZ '2000-01-01 00:00:00+00')
           AND r.bucket <= ${FROM_US('$6')}
           AND r.first_ts <= ${FROM_US('$6')}
           AND r.first_ts >= coalesce((SELECT history_from FROM meters WHERE meter_id = m.meter_id), '-infinity')
         WINDOW w AS (ORDER BY r.bucket)
       ) s
       HAVING count(*) > 0
     ) h`,
    [METERS, SERIES.quantity, SERIES.storage, SERIES.tariff, String(fromUs), String(toUs), String(gapUs)],
  );
  return result.rows.map(seriesHealthOfRow);
}

const byMeter = (rows: SeriesHealth[]) => [...rows].sort((a, b) => a.meterId.localeCompare(b.meterId));

/** Every period and threshold: the summaries' answer equals the scan's; returns how many used summarised days. */
async function expectSameAsScan(pool: Pool): Promise<number> {
  const health = new SeriesHealthRepository(pool);
  let summarisedPeriods = 0;
  for (const [fromMs, toMs] of PERIODS) {
    const days = await health.summarisedDays(fromMs * 1000, toMs * 1000);
    if (days.daysUntilUs > days.daysFromUs) summarisedPeriods++;
    for (const gapHours of GAP_HOURS) {
      const gapUs = gapHours * 3_600_000_000;
      const expected = await scanOfRollups(pool, fromMs * 1000, toMs * 1000, gapUs);
      const actual = await health.seriesHealth(METERS, SERIES, toMs * 1000, gapUs, days);
      expect({ fromMs, toMs, gapHours, rows: byMeter(actual) }).toEqual({
        fromMs,
        toMs,
        gapHours,
        rows: byMeter(expected),
      });
    }
  }
  return summarisedPeriods;
}

async function pendingDays(pool: Pool): Promise<string[]> {
  const result = await pool.query<{ pair: string }>(
    `SELECT meter_id || ' ' || to_char(day AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS pair
     FROM readings_1d_pending ORDER BY meter_id, day`,
  );
  return result.rows.map((row) => row.pair);
}

const dayName = (day: number) => new Date(at(day, 0)).toISOString().slice(0, 10);

describe.each<[StorageDialect]>([['postgres'], ['timescaledb']])(
  'billing-period gaps and decreases from day summaries (%s)',
  (dialect) => {
    let pool: Pool;
    let stop: () => Promise<void>;

    beforeAll(async () => {
      if (dialect === 'postgres') {
        const db = await createTestDatabase('hes_series_health');
        pool = db.pool;
        stop = () => db.drop();
      } else {
        const server = await startPgliteTimescale();
        pool = server.pool;
        stop = () => server.stop();
      }
      await runMigrations(pool, { dialect, rawRetentionDays: 3650, compressAfterDays: 3650 });
      await new ReadingWriter(pool).write(INITIAL);
    });

    afterAll(async () => {
      await stop?.();
    });

    it('answers like the scan of the rollups before, during and after summarising, with back-dated writes', async () => {
      // Nothing summarised yet: every period is read from the rollups.
      expect(await expectSameAsScan(pool)).toBe(0);
      // Writing history marks every (meter, day) it touches; days summarised whole by the refresher clear them.
      expect(await pendingDays(pool)).toHaveLength(25);

      // Days 0 to 4 summarised (closed as of day 5, 00:11), the rest still from the rollups.
      const partly = await new DailySummaryRefresher(pool, dialect).refresh(at(5, 0, 11));
      expect(partly).toEqual({ daysSummarised: 5, pendingCleared: 19 });
      expect(await pendingDays(pool)).toEqual(
        ['CD000001', 'CD000002', 'CD000004'].flatMap((meter) =>
          [5, 6].map((day) => `${meter} ${dayName(day)}`),
        ),
      );
      expect(await expectSameAsScan(pool)).toBeGreaterThanOrEqual(4);

      // As of now: days 5 to 7 (yesterday; closed once today is 10 minutes old).
      const caughtUp = await new StorageMaintenance(pool).run();
      expect(caughtUp.dailySummary).toEqual({ daysSummarised: 3, pendingCleared: 6 });
      expect(await pendingDays(pool)).toEqual([]);
      expect(await expectSameAsScan(pool)).toBeGreaterThanOrEqual(4);

      // Back-dated writes into summarised days are marked pending and read from the rollups until re-summarised.
      await new ReadingWriter(pool).write([...BACKDATED, reading('CD000002', Date.now(), 900)]);
      expect(await pendingDays(pool)).toEqual([
        `CD000002 ${dayName(2)}`,
        `CD000002 ${dayName(3)}`,
        `CD000004 ${dayName(4)}`,
      ]);
      expect(await expectSameAsScan(pool)).toBeGreaterThanOrEqual(4);

      const resummarised = await new StorageMaintenance(pool).run();
      expect(resummarised.dailySummary).toEqual({ daysSummarised: 0, pendingCleared: 3 });
      expect(await pendingDays(pool)).toEqual([]);
      expect(await expectSameAsScan(pool)).toBeGreaterThanOrEqual(4);
    });

    it('finds the gaps and decreases the data holds (the comparison is not between two empty answers)', async () => {
      const health = new SeriesHealthRepository(pool);
      const fromUs = at(0, 0) * 1000;
      const toUs = at(7, 0) * 1000;
      const days = await health.summarisedDays(fromUs, toUs);
      expect(days.daysUntilUs - days.daysFromUs).toBe(7 * DAY * 1000);
      const rows = byMeter(await health.seriesHealth(METERS, SERIES, toUs, 2 * 3_600_000_000, days));
      expect(rows.map((row) => [row.meterId, row.gapCount, row.decreases])).toEqual([
        ['CD000001', 3, 2],
        ['CD000002', 2, 2],
        ['CD000004', 6, 1],
        ['CD000005', 0, 1],
      ]);
      expect(rows[0].longestGapUs).toBe((7 * HOUR + 20 * MINUTE) * 1000);
      expect(rows[0].firstGapStartUs).toBe(at(1, 1, 45) * 1000);
    });

    it('leaves out what came before a meter’s history floor, summarised days and pending ones alike', async () => {
      await pool.query(
        `INSERT INTO meters (meter_id, manufacturer, device_type, version) SELECT unnest($1::text[]), 'KAM', 7, 27`,
        [METERS],
      );
      // Mid-day in a summarised day (inside a gap, and inside a bucket: 10:07), at a midnight, before the data,
      // and on a day back-dated writes make pending below; CD000005 has no floor.
      const floors: [string, number][] = [
        ['CD000001', at(3, 10, 7)],
        ['CD000002', at(2, 0)],
        ['CD000004', at(-1, 5)],
        ['CD000003', at(1, 0)],
      ];
      for (const [meterId, floorMs] of floors) {
        await pool.query('UPDATE meters SET history_from = $2 WHERE meter_id = $1', [
          meterId,
          new Date(floorMs),
        ]);
      }
      expect(await pendingDays(pool)).toEqual([]);
      expect(await expectSameAsScan(pool)).toBeGreaterThanOrEqual(4);

      // The floor's day of CD000001 pending (read bucket by bucket), and a later one of CD000002.
      await new ReadingWriter(pool).write([
        reading('CD000001', at(3, 10, 50), 1),
        reading('CD000002', at(4, 2, 50), 1),
      ]);
      expect(await pendingDays(pool)).toEqual([`CD000001 ${dayName(3)}`, `CD000002 ${dayName(4)}`]);
      expect(await expectSameAsScan(pool)).toBeGreaterThanOrEqual(4);

      // The floor takes effect: CD000001 has one gap from day 3, 10:07 on (three over the whole week); CD000002's
      // gaps are on day 2, after its floor.
      const health = new SeriesHealthRepository(pool);
      const days = await health.summarisedDays(at(0, 0) * 1000, at(7, 0) * 1000);
      const rows = byMeter(
        await health.seriesHealth(METERS, SERIES, at(7, 0) * 1000, 2 * 3_600_000_000, days),
      );
      expect(rows.map((row) => [row.meterId, row.gapCount])).toEqual([
        ['CD000001', 1],
        ['CD000002', 2],
        ['CD000004', 6],
        ['CD000005', 0],
      ]);
      expect(rows[0].headUs).toBeGreaterThanOrEqual(at(3, 10, 7) * 1000);
    });
  },
);
