import { StorageMaintenance } from '@hes/storage';
import Redis from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'pg';
import type { RateResult, SequentialResult } from './load';
import {
  cacheLatestValues,
  createBenchDatabase,
  createBenchViewer,
  DAY_MS,
  deleteRedisKeys,
  log,
  loginBenchViewer,
  METER_SERIES,
  meterIdOf,
  openBenchDatabase,
  seedMeters,
  seedReadings,
  SLOT_MS,
  timed,
  startApiServer,
  whileCaching,
  type ApiServerProcess,
} from './seed';
import { runLoad } from './measure';

/**
 * Readings API benchmark: ~11M readings in a fresh database, the real API in its own process, load from a
 * separate process over HTTP. Run after compiling (see bench/README.md): `node dist/bench/api/main.js`.
 * Settings (env): BENCH_POSTGRES_URL (admin connection), BENCH_REDIS_URL (a Redis database number of its own,
 * default redis://127.0.0.1:6379/7), BENCH_METERS (10,000), BENCH_SLOTS (96 recent half-hours per meter and
 * series), BENCH_HISTORY_DAYS (30 days of hourly billing register before them), BENCH_BEFORE_RUNS (2 runs of the
 * 30-day consumption before the day summaries exist),
 * BENCH_LATEST_RATE (2,000/s), BENCH_LOW_RATE (100/s), BENCH_DAY_RATE (200/s), BENCH_SECONDS (30 per rate run),
 * BENCH_WARMUP_SECONDS (5 unmeasured seconds of the same load before each rate run), BENCH_INGEST_RATE (6,700
 * readings/s written into Redis by ReadingCache during the second latest run, in batches of BENCH_INGEST_BATCH,
 * 3,000),
 * BENCH_KEEP_DATABASE (1 keeps the database), BENCH_REUSE_DATABASE (the name of a database an earlier run kept, with
 * the same BENCH_METERS: skips the ≈ 7-minute seeding and the rollups-only consumption runs, since its day summaries
 * exist), BENCH_API_WORKERS (API_WORKERS of the API under test, default 1).
 */
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/7';
const METERS = Number(process.env.BENCH_METERS ?? 10_000);
const SLOTS = Number(process.env.BENCH_SLOTS ?? 96);
const HISTORY_DAYS = Number(process.env.BENCH_HISTORY_DAYS ?? 30);
const BEFORE_RUNS = Number(process.env.BENCH_BEFORE_RUNS ?? 2);
const HOUR_MS = 2 * SLOT_MS;
const BILLING_DAYS = 30;
const LATEST_RATE = Number(process.env.BENCH_LATEST_RATE ?? 2_000);
const DAY_RATE = Number(process.env.BENCH_DAY_RATE ?? 200);
const LOW_RATE = Number(process.env.BENCH_LOW_RATE ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 5);
/** The design load's readings per second, and a decryptor unit of work's readings (≈ 750 telegrams × 4). */
const INGEST_RATE = Number(process.env.BENCH_INGEST_RATE ?? 6_700);
const INGEST_BATCH = Number(process.env.BENCH_INGEST_BATCH ?? 3_000);
const KEEP_DATABASE = process.env.BENCH_KEEP_DATABASE === '1';
const REUSE_DATABASE = process.env.BENCH_REUSE_DATABASE;
const API_WORKERS = Number(process.env.BENCH_API_WORKERS ?? 1);

function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

const summary = (timings: number[]) => {
  const sorted = [...timings].sort((a, b) => a - b);
  const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))].toFixed(0);
  return `min ${pick(0)} ms, median ${pick(0.5)} ms, max ${pick(1)} ms over ${sorted.length}`;
};

/** The seeded data: its society and the end of its recent half-hours (the last one starts SLOT_MS before). */
interface Seeded {
  societyId: string;
  endMs: number;
}

async function seed(pool: Pool): Promise<Seeded> {
  const endMs = Math.floor(Date.now() / SLOT_MS) * SLOT_MS;
  const recentFromMs = endMs - SLOTS * SLOT_MS;
  const historySlots = (HISTORY_DAYS * DAY_MS) / HOUR_MS;
  const societyId = await seedMeters(pool, METERS);
  // The billing register's history, hourly (a month of half-hours in four series would be 58M readings); one
  // meter in a hundred is silent for 30 hours (slots 100-129): the consumption answer flags those gaps.
  await seedReadings(pool, {
    meters: METERS,
    slots: historySlots,
    slotMs: HOUR_MS,
    endMs: recentFromMs,
    series: [{ quantity: 'total_m3', storage: 0, unit: 'm3', valueSql: '100 + n * 0.01 + s * 0.01' }],
    silentEvery: 100,
    silentSlots: [100, 129],
  });
  // The recent half-hours of all four series; total_m3 goes on rising from where its history ended.
  await seedReadings(pool, {
    meters: METERS,
    slots: SLOTS,
    endMs,
    series: METER_SERIES.map((one) =>
      one.quantity === 'total_m3'
        ? { ...one, valueSql: `100 + n * 0.01 + ${historySlots * 0.01} + s * 0.005` }
        : one,
    ),
  });
  await createBenchViewer(pool, societyId);
  return { societyId, endMs };
}

/** What seed() made in a kept database: meter 0 reports at minute 0 of every slot, the last one ending at endMs. */
async function seededBefore(pool: Pool): Promise<Seeded> {
  const meters = await pool.query<{ count: string }>('SELECT count(*) FROM meters');
  if (Number(meters.rows[0].count) !== METERS)
    throw new Error(`BENCH_REUSE_DATABASE has ${meters.rows[0].count} meters, BENCH_METERS is ${METERS}`);
  const society = await pool.query<{ id: string }>('SELECT id FROM societies');
  const last = await pool.query<{ ts: Date }>('SELECT max(ts) AS ts FROM readings WHERE meter_id = $1', [
    meterIdOf(0),
  ]);
  return { societyId: society.rows[0].id, endMs: last.rows[0].ts.getTime() + SLOT_MS };
}

async function main(): Promise<void> {
  const database = REUSE_DATABASE
    ? openBenchDatabase(ADMIN_URL, REUSE_DATABASE)
    : await createBenchDatabase(ADMIN_URL, 'hes_bench_api');
  const workDir = mkdtempSync(join(tmpdir(), 'hes-bench-api-'));
  const redis = new Redis(REDIS_URL);
  let server: ApiServerProcess | undefined;
  try {
    const { societyId, endMs } = REUSE_DATABASE
      ? await seededBefore(database.pool)
      : await seed(database.pool);
    await cacheLatestValues(database.pool, REDIS_URL);
    server = await startApiServer({
      databaseUrl: database.url,
      redisUrl: REDIS_URL,
      logLevel: 'warn',
      workers: API_WORKERS,
    });
    log(`API with ${API_WORKERS} worker(s)`);
    const baseUrl = server.baseUrl;
    const token = await loginBenchViewer(baseUrl);
    const meters = shuffled(Array.from({ length: METERS }, (_, n) => meterIdOf(n)));

    const latestPaths = meters.map((id) => `/api/v1/meters/${id}/latest`);
    // Each rate run first sends WARMUP_SECONDS of its load unmeasured, on the connections it then measures.
    const latestPlan = {
      kind: 'rate',
      baseUrl,
      token,
      paths: latestPaths,
      ratePerSecond: LATEST_RATE,
      connections: 50,
      seconds: SECONDS,
    } as const;
    const latest = await runLoad<RateResult>({ ...latestPlan, warmupSeconds: WARMUP_SECONDS }, workDir);
    log(`latest (Redis) at ${LATEST_RATE}/s: ${JSON.stringify(latest)}`);
    // The same at a rate this machine serves without queueing, to separate service time from saturation.
    const latestLow = await runLoad<RateResult>(
      { ...latestPlan, ratePerSecond: LOW_RATE, connections: 10, warmupSeconds: WARMUP_SECONDS },
      workDir,
    );
    log(`latest (Redis) at ${LOW_RATE}/s: ${JSON.stringify(latestLow)}`);
    // The same while readings arrive at the design load: the decryptor's cache writes share Redis with the reads.
    const ingesting = await whileCaching(
      { redisUrl: REDIS_URL, meters: METERS, readingsPerSecond: INGEST_RATE, readingsPerBatch: INGEST_BATCH },
      () => runLoad<RateResult>({ ...latestPlan, warmupSeconds: WARMUP_SECONDS }, workDir),
    );
    log(`cache writer: ${JSON.stringify(ingesting.written)}`);
    log(
      `latest (Redis) at ${LATEST_RATE}/s while ${INGEST_RATE} readings/s are cached in batches of ${INGEST_BATCH}: ${JSON.stringify(ingesting.result)}`,
    );

    const dayStart = new Date(endMs - 2 * DAY_MS).toISOString();
    const dayEnd = new Date(endMs - DAY_MS).toISOString();
    const dayPaths = meters.map((id) => `/api/v1/meters/${id}/readings?from=${dayStart}&to=${dayEnd}`);
    const day = await runLoad<RateResult>(
      {
        kind: 'rate',
        baseUrl,
        token,
        paths: dayPaths,
        ratePerSecond: DAY_RATE,
        connections: 20,
        seconds: SECONDS,
        warmupSeconds: WARMUP_SECONDS,
      },
      workDir,
    );
    log(`one meter, one day (${4 * 48} readings) at ${DAY_RATE}/s: ${JSON.stringify(day)}`);

    // The billing period: the 30 whole days up to the last midnight, from the day summaries (readings_1d) once
    // the refresher made them; before that, from the 30-minute rollups (what the API did without summaries).
    const periodToMs = endMs - (endMs % DAY_MS);
    const periodFrom = new Date(periodToMs - BILLING_DAYS * DAY_MS).toISOString();
    const periodTo = new Date(periodToMs).toISOString();
    const societyPath = `/api/v1/societies/${societyId}/consumption?from=${periodFrom}&to=${periodTo}`;
    const consumption = async (label: string, repeat: number, accept?: string) => {
      const result = await runLoad<SequentialResult>(
        { kind: 'sequential', baseUrl, token, paths: [societyPath], repeat, accept },
        workDir,
      );
      log(
        `society consumption ${periodFrom} - ${periodTo}, ${METERS} meters, ${label}: ${summary(result.timingsMs)}; statuses ${[...new Set(result.statuses)]}, ${result.bytes[0]} bytes`,
      );
    };
    if (BEFORE_RUNS > 0 && !REUSE_DATABASE) await consumption('JSON, 30-minute rollups only', BEFORE_RUNS);
    const maintenance = await timed('StorageMaintenance.run (day summaries of the whole history)', () =>
      new StorageMaintenance(database.pool).run(),
    );
    log(`day summaries: ${JSON.stringify(maintenance.dailySummary)}`);
    await timed('VACUUM ANALYZE readings_1d', () => database.pool.query('VACUUM ANALYZE readings_1d'));
    await consumption('JSON', 5);
    await consumption('CSV', 3, 'text/csv');
    const oneDayPath = `/api/v1/societies/${societyId}/consumption?from=${dayStart}&to=${dayEnd}`;
    const oneDay = await runLoad<SequentialResult>(
      { kind: 'sequential', baseUrl, token, paths: [oneDayPath], repeat: 3 },
      workDir,
    );
    log(`society consumption ${dayStart} - ${dayEnd} (one day), JSON: ${summary(oneDay.timingsMs)}`);

    // Latest with Redis emptied for these meters: every answer from the database.
    await deleteRedisKeys(redis, 'hes:latest:B3*');
    const fallback = await runLoad<RateResult>({ ...latestPlan, seconds: Math.min(SECONDS, 15) }, workDir);
    log(`latest (database fallback, Redis empty) at ${LATEST_RATE}/s: ${JSON.stringify(fallback)}`);
  } finally {
    await server?.stop();
    await deleteRedisKeys(redis, 'hes:*');
    redis.disconnect();
    await database.close(KEEP_DATABASE || REUSE_DATABASE !== undefined);
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
