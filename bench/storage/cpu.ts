import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Client, Pool } from 'pg';
import { Reading, ReadingWriter, createPool, runMigrations } from '@hes/storage';
import { parseProcStatTicks } from '../pipeline/proc-sampler';

/**
 * PostgreSQL backend CPU per stored reading of the ReadingWriter (plain dialect) under the pipeline's write
 * pattern: BENCH_METERS meters each sending a telegram every 16 s (phases spread evenly), 4 series per telegram,
 * written in time order in batches of BENCH_TELEGRAMS_PER_BATCH telegrams (≈ 3,000 = one decryptor unit of work),
 * BENCH_MINUTES of simulated time starting at the 30-minute bucket that was current BENCH_MINUTES ago. With more meters
 * than telegrams per batch a meter appears at most once per batch, as in the pipeline, so the rollup upsert cannot
 * fold readings of one series together and updates each bucket row once per telegram. The pool has one connection, so one backend serves every write;
 * its utime + stime (/proc/<pg_backend_pid()>/stat) over a pass divided by the readings of the pass is the figure,
 * whatever else the machine runs. Passes: fresh rows (split into the first 30-minute bucket of each series, where
 * rollup rows are created, and the rest, where they are updated), then the same rows replayed (all duplicates).
 * Creates and drops its own database. `node <compiled>/bench/storage/cpu.js`; env: BENCH_POSTGRES_URL,
 * BENCH_METERS (6,000), BENCH_MINUTES (30), BENCH_TELEGRAMS_PER_BATCH (3,000), BENCH_MIGRATIONS_DIR (another
 * migrations directory, e.g. one without a migration under test), BENCH_KEEP_DATABASE=1.
 */
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const METERS = Number(process.env.BENCH_METERS ?? 6_000);
const MINUTES = Number(process.env.BENCH_MINUTES ?? 30);
const TELEGRAMS_PER_BATCH = Number(process.env.BENCH_TELEGRAMS_PER_BATCH ?? 3_000);
const MIGRATIONS_DIR = process.env.BENCH_MIGRATIONS_DIR;
const KEEP_DATABASE = process.env.BENCH_KEEP_DATABASE === '1';
const SEND_INTERVAL_MS = 16_000;
const BUCKET_MS = 30 * 60_000;
/** Linux clock ticks per second (USER_HZ), the unit of utime and stime. */
const CLOCK_TICKS_PER_SECOND = 100;
/** The four registers of a Kamstrup flowIQ 2101 telegram. */
const SERIES = [
  { quantity: 'volume', unit: 'm3' },
  { quantity: 'volume_flow', unit: 'm3/h' },
  { quantity: 'flow_temperature', unit: 'C' },
  { quantity: 'external_temperature', unit: 'C' },
] as const;

interface Batch {
  readings: Reading[];
  /** Whether every reading of the batch falls into a 30-minute bucket its series already had (no rollup row created). */
  updatesOnly: boolean;
}

/** The telegrams of every meter in time order, cut into batches; deterministic, so a second call replays the first. */
function* batches(start: number): Generator<Batch> {
  const end = start + MINUTES * 60_000;
  let readings: Reading[] = [];
  let telegrams = 0;
  let updatesOnly = true;
  for (let slot = start; slot < end; slot += SEND_INTERVAL_MS) {
    for (let m = 0; m < METERS; m++) {
      const ts = slot + Math.floor((m * SEND_INTERVAL_MS) / METERS);
      const meterId = String(10_000_000 + m);
      const elapsed = (ts - start) / 1000;
      SERIES.forEach(({ quantity, unit }, index) => {
        readings.push({
          meterId,
          ts: new Date(ts),
          quantity,
          storage: 0,
          tariff: 0,
          unit,
          value: index === 0 ? m + elapsed / 3600 : 20 + index + (elapsed % 60) / 100,
          source: 'gateway',
        });
      });
      // A meter's first telegram in a bucket (buckets are aligned to the epoch) creates its rollup rows.
      if (ts % BUCKET_MS < SEND_INTERVAL_MS) updatesOnly = false;
      if (++telegrams === TELEGRAMS_PER_BATCH) {
        yield { readings, updatesOnly };
        readings = [];
        telegrams = 0;
        updatesOnly = true;
      }
    }
  }
  if (readings.length > 0) yield { readings, updatesOnly };
}

interface PassResult {
  readings: number;
  inserted: number;
  backendTicks: number;
  seconds: number;
}

const emptyPass = (): PassResult => ({ readings: 0, inserted: 0, backendTicks: 0, seconds: 0 });

function backendTicks(pid: number): number {
  return parseProcStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** Writes every batch; figures go to `updates` for batches that only update rollup rows, to `creates` otherwise. */
async function pass(
  writer: ReadingWriter,
  backendPid: number,
  start: number,
): Promise<{ creates: PassResult; updates: PassResult }> {
  const creates = emptyPass();
  const updates = emptyPass();
  for (const batch of batches(start)) {
    const ticksBefore = backendTicks(backendPid);
    const started = process.hrtime.bigint();
    const result = await writer.write(batch.readings);
    const target = batch.updatesOnly ? updates : creates;
    target.seconds += Number(process.hrtime.bigint() - started) / 1e9;
    target.backendTicks += backendTicks(backendPid) - ticksBefore;
    target.readings += batch.readings.length;
    target.inserted += result.inserted;
  }
  return { creates, updates };
}

function combined(a: PassResult, b: PassResult): PassResult {
  return {
    readings: a.readings + b.readings,
    inserted: a.inserted + b.inserted,
    backendTicks: a.backendTicks + b.backendTicks,
    seconds: a.seconds + b.seconds,
  };
}

function describe(label: string, run: PassResult): string {
  const micros = (run.backendTicks * 1e6) / CLOCK_TICKS_PER_SECOND / run.readings;
  return (
    `${label}: ${run.readings.toLocaleString('en')} readings, ${run.inserted.toLocaleString('en')} inserted, ` +
    `backend ${micros.toFixed(2)} µs CPU/reading, ${run.seconds.toFixed(1)} s wall`
  );
}

async function rollupStatistics(pool: Pool): Promise<string> {
  await pool.query('SELECT pg_stat_force_next_flush()');
  // The backend flushes its counters when it goes idle after the statement above; a new snapshot sees them.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  await pool.query('SELECT pg_stat_clear_snapshot()');
  const result = await pool.query<{
    n_tup_ins: string;
    n_tup_upd: string;
    n_tup_hot_upd: string;
    table_size: string;
    indexes_size: string;
  }>(
    `SELECT n_tup_ins, n_tup_upd, n_tup_hot_upd,
            pg_size_pretty(pg_table_size('readings_30m')) AS table_size,
            pg_size_pretty(pg_indexes_size('readings_30m')) AS indexes_size
     FROM pg_stat_user_tables WHERE relname = 'readings_30m'`,
  );
  const stats = result.rows[0];
  return (
    `readings_30m: ${stats.n_tup_ins} rows inserted, ${stats.n_tup_upd} updates of which ${stats.n_tup_hot_upd} HOT, ` +
    `table ${stats.table_size}, indexes ${stats.indexes_size}`
  );
}

async function main(): Promise<void> {
  const name = `hes_bench_storage_cpu_${randomBytes(3).toString('hex')}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), { max: 1 });
  try {
    await runMigrations(pool, { dialect: 'postgres', migrationsDir: MIGRATIONS_DIR });
    const backend = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const backendPid = backend.rows[0].pid;
    const writer = new ReadingWriter(pool);
    const start = Math.floor((Date.now() - MINUTES * 60_000) / BUCKET_MS) * BUCKET_MS;
    console.log(
      `${METERS} meters x ${SERIES.length} series every ${SEND_INTERVAL_MS / 1000} s, ${MINUTES} min, ` +
        `${TELEGRAMS_PER_BATCH} telegrams per batch; load average ${loadavg()
          .map((load) => load.toFixed(2))
          .join(' ')}`,
    );
    const fresh = await pass(writer, backendPid, start);
    console.log(describe('fresh, batches creating rollup rows', fresh.creates));
    console.log(describe('fresh, batches updating rollup rows only', fresh.updates));
    console.log(describe('fresh, all', combined(fresh.creates, fresh.updates)));
    console.log(await rollupStatistics(pool));
    const replay = await pass(writer, backendPid, start);
    console.log(describe('replay (all duplicates)', combined(replay.creates, replay.updates)));
    console.log(
      `load average ${loadavg()
        .map((load) => load.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    await pool.end();
    if (KEEP_DATABASE) console.log(`database kept: ${name}`);
    else await admin.query(`DROP DATABASE "${name}" WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
