import { readRecordedDialect } from './dialect';
import { StorageMaintenance } from './maintenance';
import { runMigrations } from './migrate';
import { ReadingWriter } from './reading-writer';
import { PgliteTimescaleServer, startPgliteTimescale } from '../test/pglite-server';
import { countReadings, readingsFixture, recomputedRollups, storedRollups } from '../test/readings-fixture';
import { migrationFileNames } from '../test/migration-files';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** TimescaleDB SQL exercised against the PGlite TimescaleDB build (no background workers: policies run in-process). */
describe('storage on TimescaleDB (PGlite build over the wire)', () => {
  let server: PgliteTimescaleServer;

  beforeAll(async () => {
    server = await startPgliteTimescale();
    const result = await runMigrations(server.pool, { dialect: 'auto', rawRetentionDays: 30 });
    expect(result).toEqual(expect.objectContaining({ dialect: 'timescaledb' }));
    expect(result.applied).toEqual(migrationFileNames());
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('creates a hypertable with 1-day chunks, a real-time continuous aggregate and the three policies', async () => {
    expect(await readRecordedDialect(server.pool)).toBe('timescaledb');
    const dimension = await server.pool.query(
      `SELECT time_interval FROM timescaledb_information.dimensions WHERE hypertable_name = 'readings'`,
    );
    expect(dimension.rows[0].time_interval).toEqual(expect.objectContaining({ days: 1 }));
    const cagg = await server.pool.query(
      `SELECT materialized_only FROM timescaledb_information.continuous_aggregates WHERE view_name = 'readings_30m'`,
    );
    expect(cagg.rows).toEqual([{ materialized_only: false }]);
    const jobs = await server.pool.query(
      `SELECT proc_name FROM timescaledb_information.jobs WHERE hypertable_name IN ('readings', 'readings_30m') ORDER BY 1`,
    );
    expect(jobs.rows.map((row) => row.proc_name)).toEqual([
      'policy_compression',
      'policy_refresh_continuous_aggregate',
      'policy_retention',
    ]);
    expect((await runMigrations(server.pool)).applied).toEqual([]);
    await expect(runMigrations(server.pool, { dialect: 'postgres' })).rejects.toThrow(
      /cannot change dialect/,
    );
  });

  it('writes idempotently; the aggregate matches a GROUP BY over raw rows before and after refresh', async () => {
    const writer = new ReadingWriter(server.pool);
    const start = new Date(Math.floor((Date.now() - DAY) / HOUR) * HOUR + 7 * 60_000);
    const batch = readingsFixture({ meters: 10, perMeter: 80, start, stepMs: 15 * 60_000 });

    expect(await writer.write(batch)).toEqual({ inserted: batch.length, duplicates: 0, rejected: [] });
    expect(await writer.write(batch)).toEqual({ inserted: 0, duplicates: batch.length, rejected: [] });
    expect(await countReadings(server.pool)).toBe(batch.length);
    // Nothing materialised yet: real-time aggregation answers from the raw rows.
    expect(await storedRollups(server.pool)).toEqual(await recomputedRollups(server.pool));

    const report = await new StorageMaintenance(server.pool).run();
    expect(report.jobsRun).toHaveLength(3);
    const materialised = await server.pool.query(
      `SELECT count(*)::int AS n FROM readings_30m WHERE bucket < now() - INTERVAL '1 hour'`,
    );
    expect(materialised.rows[0].n).toBeGreaterThan(0);
    expect(await storedRollups(server.pool)).toEqual(await recomputedRollups(server.pool));
  });

  it('folds a back-dated batch into buckets that were already materialised', async () => {
    const writer = new ReadingWriter(server.pool);
    const maintenance = new StorageMaintenance(server.pool);
    const oldStart = new Date(Math.floor((Date.now() - 10 * DAY) / HOUR) * HOUR);
    const early = readingsFixture({
      meters: 4,
      perMeter: 40,
      start: oldStart,
      stepMs: 10 * 60_000,
      firstMeter: 40_000_000,
    });
    await writer.write(early.filter((_, i) => i % 2 === 0));
    await maintenance.run();
    expect(await storedRollups(server.pool)).toEqual(await recomputedRollups(server.pool));
    const compressed = await server.pool.query(
      `SELECT count(*)::int AS n FROM timescaledb_information.chunks WHERE hypertable_name = 'readings' AND is_compressed`,
    );
    expect(compressed.rows[0].n).toBeGreaterThan(0);
    expect((await writer.write(early.filter((_, i) => i % 2 === 0))).inserted).toBe(0);

    // A handheld upload brings the missing half of those old buckets, far behind the refresh policy's window.
    expect((await writer.write(early)).inserted).toBe(early.length / 2);
    const stale = await storedRollups(server.pool);
    expect(stale).not.toEqual(await recomputedRollups(server.pool));

    await maintenance.run();
    expect(await storedRollups(server.pool)).toEqual(await recomputedRollups(server.pool));
  });

  it('retention drops raw chunks older than RAW_RETENTION_DAYS', async () => {
    const writer = new ReadingWriter(server.pool);
    const expired = readingsFixture({
      meters: 2,
      perMeter: 10,
      start: new Date(Date.now() - 40 * DAY),
      stepMs: 60_000,
      firstMeter: 50_000_000,
    });
    expect((await writer.write(expired)).inserted).toBe(expired.length);
    const before = await countReadings(server.pool);
    await new StorageMaintenance(server.pool).run();
    expect(await countReadings(server.pool)).toBe(before - expired.length);
    const remaining = await server.pool.query(
      `SELECT count(*)::int AS n FROM readings WHERE meter_id LIKE '5000000_'`,
    );
    expect(remaining.rows[0].n).toBe(0);
  });
});
