import type { Pool } from 'pg';
import type { Reading } from '../src/reading';

/** A gateway reading of a register in m3 (tariff 0), the row most readings tests build by hand. */
export const registerReading = (
  meterId: string,
  ts: Date | string | number,
  value: number,
  quantity = 'total_m3',
  storage = 0,
): Reading => ({
  meterId,
  ts: new Date(ts),
  quantity,
  storage,
  tariff: 0,
  unit: 'm3',
  value,
  source: 'gateway',
});

export interface FixtureOptions {
  meters: number;
  /** Readings per meter and quantity. */
  perMeter: number;
  start: Date;
  stepMs: number;
  /** First meter number; meter ids are 8-digit decimal strings as wM-Bus prints BCD ids. */
  firstMeter?: number;
}

/** Volume (monotonic) and flow temperature (varying) readings for several meters at a fixed cadence. */
export function readingsFixture(options: FixtureOptions): Reading[] {
  const readings: Reading[] = [];
  for (let m = 0; m < options.meters; m++) {
    const meterId = String((options.firstMeter ?? 10_000_000) + m).padStart(8, '0');
    for (let i = 0; i < options.perMeter; i++) {
      const ts = new Date(options.start.getTime() + i * options.stepMs);
      readings.push({
        meterId,
        ts,
        quantity: 'volume',
        storage: 0,
        tariff: 0,
        unit: 'm3',
        value: m + i * 0.001,
        source: 'gateway',
      });
      readings.push({
        meterId,
        ts,
        quantity: 'flow_temperature',
        storage: 0,
        tariff: 0,
        unit: 'c',
        value: 10 + ((i * 7 + m) % 13),
        source: 'gateway',
      });
    }
  }
  return readings;
}

export interface RollupRow {
  bucket: string;
  meter_id: string;
  quantity: string;
  storage: number;
  tariff: number;
  unit: string;
  first_ts: string;
  first_value: number;
  last_ts: string;
  last_value: number;
  min_value: number;
  max_value: number;
  sum_value: number;
  avg_value: number;
  reading_count: number;
}

const ROLLUP_COLUMNS = `bucket::text, meter_id, quantity, storage, tariff, unit, first_ts::text, first_value, last_ts::text,
  last_value, min_value, max_value, round(sum_value::numeric, 6)::float8 AS sum_value,
  round(avg_value::numeric, 6)::float8 AS avg_value, reading_count::int AS reading_count`;
const ROLLUP_ORDER = 'ORDER BY meter_id, quantity, storage, tariff, unit, bucket';

/** readings_30m as stored (plain table or continuous aggregate). */
export async function storedRollups(pool: Pool): Promise<RollupRow[]> {
  return (await pool.query<RollupRow>(`SELECT ${ROLLUP_COLUMNS} FROM readings_30m ${ROLLUP_ORDER}`)).rows;
}

/** The same rollups computed from scratch with a GROUP BY over the raw rows: the reference. */
export async function recomputedRollups(pool: Pool): Promise<RollupRow[]> {
  return (
    await pool.query<RollupRow>(`
      SELECT ${ROLLUP_COLUMNS} FROM (
        SELECT date_bin(INTERVAL '30 minutes', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
               meter_id, quantity, storage, tariff, unit,
               min(ts) AS first_ts, (array_agg(value ORDER BY ts))[1] AS first_value,
               max(ts) AS last_ts, (array_agg(value ORDER BY ts DESC))[1] AS last_value,
               min(value) AS min_value, max(value) AS max_value, sum(value) AS sum_value, avg(value) AS avg_value,
               count(*) AS reading_count
        FROM readings GROUP BY 1, 2, 3, 4, 5, 6) AS reference
      ${ROLLUP_ORDER}`)
  ).rows;
}

export async function countReadings(pool: Pool): Promise<number> {
  return (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM readings')).rows[0].n;
}
