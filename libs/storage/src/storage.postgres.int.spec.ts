import { readRecordedDialect } from './dialect';
import { StorageMaintenance } from './maintenance';
import { runMigrations } from './migrate';
import { ReadingWriter } from './reading-writer';
import { TestDatabase, createTestDatabase } from '../test/postgres-database';
import { countReadings, readingsFixture, recomputedRollups, storedRollups } from '../test/readings-fixture';
import { migrationFileNames } from '../test/migration-files';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('storage on real PostgreSQL 15 (plain dialect)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('hes_storage_plain');
    const result = await runMigrations(db.pool, { dialect: 'auto', rawRetentionDays: 30 });
    expect(result.dialect).toBe('postgres');
    expect(result.applied).toEqual(migrationFileNames());
  });

  afterAll(async () => {
    await db.drop();
  });

  it('records the dialect, re-runs as a no-op and refuses to switch dialect', async () => {
    expect(await readRecordedDialect(db.pool)).toBe('postgres');
    expect((await runMigrations(db.pool)).applied).toEqual([]);
    await expect(runMigrations(db.pool, { dialect: 'timescaledb' })).rejects.toThrow(/cannot change dialect/);
  });

  it('writes idempotently and keeps readings_30m equal to a GROUP BY over the raw rows', async () => {
    const writer = new ReadingWriter(db.pool);
    const start = new Date(Math.floor((Date.now() - 2 * DAY) / HOUR) * HOUR + 7 * 60_000);
    // 20 meters x 2 quantities x 200 readings every 15 min: crosses UTC day boundaries (several partitions).
    const batch = readingsFixture({ meters: 20, perMeter: 200, start, stepMs: 15 * 60_000 });

    const first = await writer.write(batch);
    expect(first).toEqual({ inserted: batch.length, duplicates: 0, rejected: [] });
    const rollupsAfterFirst = await storedRollups(db.pool);

    const replay = await writer.write(batch);
    expect(replay).toEqual({ inserted: 0, duplicates: batch.length, rejected: [] });
    expect(await countReadings(db.pool)).toBe(batch.length);
    expect(await storedRollups(db.pool)).toEqual(rollupsAfterFirst);
    expect(rollupsAfterFirst).toEqual(await recomputedRollups(db.pool));
  });

  it('merges out-of-order and partly duplicated batches into the same buckets correctly', async () => {
    const writer = new ReadingWriter(db.pool);
    const start = new Date(Math.floor((Date.now() - 5 * DAY) / HOUR) * HOUR);
    const all = readingsFixture({
      meters: 3,
      perMeter: 60,
      start,
      stepMs: 5 * 60_000,
      firstMeter: 20_000_000,
    });
    const newer = all.filter((_, i) => i % 3 !== 0);
    const older = all.filter((_, i) => i % 3 === 0);
    // The late batch repeats part of the first one: only its new rows may reach the rollup.
    const late = [...older, ...newer.slice(0, 25), older[0]];

    expect((await writer.write(newer)).inserted).toBe(newer.length);
    const result = await writer.write(late);
    expect(result).toEqual({ inserted: older.length, duplicates: 26, rejected: [] });
    expect(await storedRollups(db.pool)).toEqual(await recomputedRollups(db.pool));
  });

  it('rejects invalid rows by index and field while storing the valid ones next to them', async () => {
    const writer = new ReadingWriter(db.pool);
    const ts = new Date(Date.now() - HOUR);
    const good = {
      meterId: 'aabbccdd',
      ts,
      quantity: 'volume',
      storage: 0,
      tariff: 0,
      unit: 'm3',
      value: 1.5,
      source: 'mqtt',
    };
    const result = await writer.write([
      good,
      { ...good, meterId: '1234' },
      { ...good, quantity: 'flow_temperature', value: Number.NaN },
      { ...good, quantity: 'target_volume', storage: 1 },
    ]);
    expect(result.inserted).toBe(2);
    expect(result.rejected).toEqual([
      { index: 1, field: 'meterId', reason: 'must be 8 hex digits, got "1234"' },
      { index: 2, field: 'value', reason: 'must be a finite number, got NaN' },
    ]);
    const stored = await db.pool.query(
      `SELECT quantity FROM readings WHERE meter_id = 'AABBCCDD' ORDER BY quantity`,
    );
    expect(stored.rows.map((row) => row.quantity)).toEqual(['target_volume', 'volume']);
  });

  it('creates daily partitions on demand and drops them past retention, recreating one the writer still remembers', async () => {
    const writer = new ReadingWriter(db.pool);
    const old = new Date(Date.now() - 45 * DAY);
    const partition = `readings_p${old.toISOString().slice(0, 10).replaceAll('-', '')}`;
    const reading = {
      meterId: '30000000',
      ts: old,
      quantity: 'volume',
      storage: 0,
      tariff: 0,
      unit: 'm3',
      value: 7,
      source: 'handheld',
    };
    expect((await writer.write([reading])).inserted).toBe(1);
    const exists = async () =>
      (await db.pool.query('SELECT to_regclass($1) IS NOT NULL AS e', [partition])).rows[0].e;
    expect(await exists()).toBe(true);

    const report = await new StorageMaintenance(db.pool, { daysAhead: 10 }).run();
    expect(report.partitionsDropped).toContain(partition);
    expect(await exists()).toBe(false);
    const ahead = new Date(Date.now() + 10 * DAY).toISOString().slice(0, 10).replaceAll('-', '');
    expect(
      (await db.pool.query('SELECT to_regclass($1) IS NOT NULL AS e', [`readings_p${ahead}`])).rows[0].e,
    ).toBe(true);
    expect(
      (await db.pool.query(`SELECT count(*)::int AS n FROM readings WHERE meter_id = '30000000'`)).rows[0].n,
    ).toBe(0);

    // The writer's partition cache still lists the dropped day: the write must recreate it, not fail.
    expect((await writer.write([reading])).inserted).toBe(1);
    expect(await exists()).toBe(true);
  });
});
