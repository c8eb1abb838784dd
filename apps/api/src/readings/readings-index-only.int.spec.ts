/**
 * The raw readings query (ReadingsRepository.rawPage) against the real plain-PostgreSQL schema: each page is an
 * index-only range over the primary key of exactly the daily partitions of the period (pruned when planning, as
 * node-postgres' unnamed statements are planned with their values), without a heap visit once VACUUM has marked the
 * pages all-visible. A column read here that the key does not INCLUDE, or a predicate that stops plan-time pruning,
 * fails this test. The text and values are the ones rawPage sends, captured from the pool; sequential and bitmap scans
 * are disabled so the planner shows whether the index alone can answer, whatever the small table's costs say.
 */
import { createPool, ReadingWriter, runMigrations, type Reading } from '@hes/storage';
import { createTestDatabase, type TestDatabase } from '@hes/testing';
import type { Pool } from 'pg';
import { ReadingsRepository, type ReadingPosition } from './readings.repository';

jest.setTimeout(60_000);

const HALF_HOUR = 30 * 60_000;
const DAY_FROM = Date.UTC(2026, 10, 20, 12, 0);
const DAY_TO = DAY_FROM + 24 * 60 * 60_000;
const SERIES = [
  { quantity: 'total_m3', storage: 0, unit: 'm3' },
  { quantity: 'target_m3', storage: 1, unit: 'm3' },
  { quantity: 'flow_temperature_c', storage: 0, unit: 'c' },
];

/** Two meters, three series each, every half-hour from a day before the period to a day after it. */
function readings(): Reading[] {
  const rows: Reading[] = [];
  for (const meterId of ['AAAA0001', 'AAAA0002']) {
    for (let ts = DAY_FROM - 24 * 60 * 60_000; ts < DAY_TO + 24 * 60 * 60_000; ts += HALF_HOUR) {
      for (const series of SERIES) {
        rows.push({ meterId, ts: new Date(ts), tariff: 0, value: ts / 1e9, source: 'gateway', ...series });
      }
    }
  }
  return rows;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Heap Fetches'?: number;
  'Actual Rows'?: number;
  Plans?: PlanNode[];
}

function nodesOf(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(nodesOf)];
}

describe('raw readings query plan (plain PostgreSQL)', () => {
  let db: TestDatabase;
  let pool: Pool;
  let repository: ReadingsRepository;

  beforeAll(async () => {
    db = await createTestDatabase('hes_readings_plan');
    await runMigrations(db.url);
    pool = createPool(db.url, { max: 2 });
    await new ReadingWriter(pool).write(readings());
    // Autovacuum does this in a deployment (inserts trigger it); the test server runs without autovacuum.
    await pool.query('VACUUM ANALYZE readings');
    const partitions = await pool.query(`SELECT 1 FROM pg_inherits WHERE inhparent = 'readings'::regclass`);
    expect(partitions.rowCount).toBeGreaterThanOrEqual(4);
    repository = new ReadingsRepository(pool);
  });

  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  /** The statement rawPage sends for these arguments, run under EXPLAIN ANALYZE with the same values. */
  async function planOfRawPage(
    quantities: string[] | undefined,
    after: ReadingPosition | undefined,
  ): Promise<{ nodes: PlanNode[]; rows: number }> {
    const query = jest.spyOn(pool, 'query');
    let rows: number;
    let text: string;
    let values: unknown[];
    try {
      rows = (await repository.rawPage('AAAA0001', DAY_FROM, DAY_TO, quantities, after, 1000, null)).length;
      [text, values] = query.mock.calls[0] as unknown as [string, unknown[]];
    } finally {
      query.mockRestore();
    }
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL enable_seqscan = off');
      await client.query('SET LOCAL enable_bitmapscan = off');
      const explained = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`,
        values,
      );
      await client.query('COMMIT');
      return { nodes: nodesOf(explained.rows[0]['QUERY PLAN'][0].Plan), rows };
    } finally {
      client.release();
    }
  }

  /** Of the readings partitions (the days before, in and after the period), the plan holds only `partitions`. */
  function expectIndexOnlyOver(partitions: string[], nodes: PlanNode[], rows: number): void {
    const scans = nodes.filter((node) => node['Relation Name'] !== undefined);
    expect(scans.map((node) => node['Relation Name']).sort()).toEqual(partitions);
    for (const scan of scans) {
      expect(scan['Node Type']).toBe('Index Only Scan');
      expect(scan['Heap Fetches']).toBe(0);
    }
    expect(scans.reduce((total, scan) => total + (scan['Actual Rows'] ?? 0), 0)).toBe(rows);
  }

  it('reads one day of a meter from the key of that day’s two partitions only', async () => {
    const { nodes, rows } = await planOfRawPage(undefined, undefined);
    expect(rows).toBe(48 * SERIES.length);
    expectIndexOnlyOver(['readings_p20261120', 'readings_p20261121'], nodes, rows);
  });

  it('stays index-only with a quantity filter and after a cursor', async () => {
    const after = { tsUs: (DAY_FROM + 20 * HALF_HOUR) * 1000, quantity: 'target_m3', storage: 1, tariff: 0 };
    const { nodes, rows } = await planOfRawPage(['total_m3', 'target_m3'], after);
    // 27 half-hours after the cursor's, two series each, and target_m3 is the cursor's own row: total_m3 sorts after.
    expect(rows).toBe(27 * 2 + 1);
    expectIndexOnlyOver(['readings_p20261120', 'readings_p20261121'], nodes, rows);
  });

  it('after a cursor on the second day, reads only that day', async () => {
    // 2026-11-21T03:00Z, the 31st half-hour of the period: 17 half-hours after it, three series each, plus the
    // cursor's own half-hour's total_m3 (after target_m3 in quantity order).
    const after = { tsUs: (DAY_FROM + 30 * HALF_HOUR) * 1000, quantity: 'target_m3', storage: 1, tariff: 0 };
    const { nodes, rows } = await planOfRawPage(undefined, after);
    expect(rows).toBe(17 * SERIES.length + 1);
    expectIndexOnlyOver(['readings_p20261121'], nodes, rows);
  });
});
