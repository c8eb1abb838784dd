import Redis from 'ioredis';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadPlan, RateResult, SequentialResult } from './load';
import {
  cacheLatestValues,
  createBenchDatabase,
  createBenchViewer,
  DAY_MS,
  deleteRedisKeys,
  log,
  loginBenchViewer,
  meterIdOf,
  seedMetersAndReadings,
  SLOT_MS,
  startApiServer,
  type ApiServerProcess,
} from './seed';

/**
 * Readings API benchmark: 10M readings in a fresh database, the real API in its own process, load from a
 * separate process over HTTP. Run after compiling (see bench/README.md): `node dist/bench/api/main.js`.
 * Settings (env): BENCH_POSTGRES_URL (admin connection), BENCH_REDIS_URL (a Redis database number of its own,
 * default redis://127.0.0.1:6379/7), BENCH_METERS (10,000), BENCH_SLOTS (251 half-hours per meter),
 * BENCH_LATEST_RATE (2,000/s), BENCH_LOW_RATE (100/s), BENCH_DAY_RATE (200/s), BENCH_SECONDS (30 per rate run),
 * BENCH_KEEP_DATABASE (1 keeps the database).
 */
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/7';
const METERS = Number(process.env.BENCH_METERS ?? 10_000);
const SLOTS = Number(process.env.BENCH_SLOTS ?? 251);
const LATEST_RATE = Number(process.env.BENCH_LATEST_RATE ?? 2_000);
const DAY_RATE = Number(process.env.BENCH_DAY_RATE ?? 200);
const LOW_RATE = Number(process.env.BENCH_LOW_RATE ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const KEEP_DATABASE = process.env.BENCH_KEEP_DATABASE === '1';

function runLoad<T extends RateResult | SequentialResult>(plan: LoadPlan, workDir: string): Promise<T> {
  const planFile = join(workDir, `plan-${Date.now()}.json`);
  writeFileSync(planFile, JSON.stringify(plan));
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [join(__dirname, 'load.js'), planFile],
      { maxBuffer: 64 << 20 },
      (error, stdout) => {
        if (error) reject(error);
        else resolve(JSON.parse(stdout) as T);
      },
    );
  });
}

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

async function main(): Promise<void> {
  const database = await createBenchDatabase(ADMIN_URL, 'hes_bench_api');
  const workDir = mkdtempSync(join(tmpdir(), 'hes-bench-api-'));
  const redis = new Redis(REDIS_URL);
  let server: ApiServerProcess | undefined;
  try {
    const endMs = Math.floor(Date.now() / SLOT_MS) * SLOT_MS;
    const startMs = endMs - SLOTS * SLOT_MS;
    // One meter in a hundred is silent for 30 hours (slots 100-159): the consumption answer flags those gaps.
    const seeded = await seedMetersAndReadings(database.pool, {
      meters: METERS,
      slots: SLOTS,
      endMs,
      silentEvery: 100,
      silentSlots: [100, 159],
    });
    await cacheLatestValues(database.pool, REDIS_URL);
    await createBenchViewer(database.pool, seeded.societyId);
    server = await startApiServer({ databaseUrl: database.url, redisUrl: REDIS_URL, logLevel: 'warn' });
    const baseUrl = server.baseUrl;
    const token = await loginBenchViewer(baseUrl);
    const meters = shuffled(Array.from({ length: METERS }, (_, n) => meterIdOf(n)));

    const latestPaths = meters.map((id) => `/api/v1/meters/${id}/latest`);
    const warm = {
      kind: 'rate',
      baseUrl,
      token,
      paths: latestPaths,
      ratePerSecond: 500,
      connections: 20,
      seconds: 5,
    } as const;
    await runLoad<RateResult>(warm, workDir);
    const latest = await runLoad<RateResult>(
      { ...warm, ratePerSecond: LATEST_RATE, connections: 50, seconds: SECONDS },
      workDir,
    );
    log(`latest (Redis) at ${LATEST_RATE}/s: ${JSON.stringify(latest)}`);
    // The same at a rate this machine serves without queueing, to separate service time from saturation.
    const latestLow = await runLoad<RateResult>(
      { ...warm, ratePerSecond: LOW_RATE, connections: 10, seconds: SECONDS },
      workDir,
    );
    log(`latest (Redis) at ${LOW_RATE}/s: ${JSON.stringify(latestLow)}`);

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
      },
      workDir,
    );
    log(`one meter, one day (${4 * 48} readings) at ${DAY_RATE}/s: ${JSON.stringify(day)}`);

    // The billing period: every full day of the data set.
    const periodFrom = new Date(startMs - (startMs % DAY_MS) + DAY_MS).toISOString();
    const periodTo = new Date(endMs - (endMs % DAY_MS)).toISOString();
    const societyPath = `/api/v1/societies/${seeded.societyId}/consumption?from=${periodFrom}&to=${periodTo}`;
    const json = await runLoad<SequentialResult>(
      { kind: 'sequential', baseUrl, token, paths: [societyPath], repeat: 5 },
      workDir,
    );
    log(
      `society consumption ${periodFrom} - ${periodTo}, ${METERS} meters, JSON: ${summary(json.timingsMs)}; statuses ${[...new Set(json.statuses)]}, ${json.bytes[0]} bytes`,
    );
    const csv = await runLoad<SequentialResult>(
      { kind: 'sequential', baseUrl, token, paths: [societyPath], repeat: 3, accept: 'text/csv' },
      workDir,
    );
    log(
      `society consumption, CSV: ${summary(csv.timingsMs)}; statuses ${[...new Set(csv.statuses)]}, ${csv.bytes[0]} bytes`,
    );
    const oneDayPath = `/api/v1/societies/${seeded.societyId}/consumption?from=${dayStart}&to=${dayEnd}`;
    const oneDay = await runLoad<SequentialResult>(
      { kind: 'sequential', baseUrl, token, paths: [oneDayPath], repeat: 3 },
      workDir,
    );
    log(`society consumption ${dayStart} - ${dayEnd} (one day), JSON: ${summary(oneDay.timingsMs)}`);

    // Latest with Redis emptied for these meters: every answer from the database.
    await deleteRedisKeys(redis, 'hes:latest:B3*');
    const fallback = await runLoad<RateResult>(
      { ...warm, ratePerSecond: LATEST_RATE, connections: 50, seconds: Math.min(SECONDS, 15) },
      workDir,
    );
    log(`latest (database fallback, Redis empty) at ${LATEST_RATE}/s: ${JSON.stringify(fallback)}`);
  } finally {
    await server?.stop();
    await deleteRedisKeys(redis, 'hes:*');
    redis.disconnect();
    await database.close(KEEP_DATABASE);
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
