import { createPool } from '@hes/storage';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { ReadingsRepository } from '../../apps/api/src/readings/readings.repository';
import type { Percentiles, RateResult } from './load';
import { backendCpuMicros, percentiles, processCpuMicros, runLoad } from './measure';
import { DAY_MS, loginBenchViewer, meterIdOf, SLOT_MS, startApiServer } from './seed';

/**
 * One meter, one day of readings on a database bench/api/main.ts kept (BENCH_KEEP_DATABASE=1), split into the
 * database's share and the API's: (1) ReadingsRepository.rawPage alone, from a pool in this process, open-loop at
 * the rate, with the PostgreSQL backends' CPU per query; (2) the real API over HTTP at the same rate (load.ts),
 * with the API process's CPU per request.
 * The day is the one main.ts asks for (the second-to-last 24 hours of the seeded readings).
 * `node <compiled>/bench/api/day.js`. Env: BENCH_DATABASE_URL (the kept database, required), BENCH_REDIS_URL
 * (default redis://127.0.0.1:6379/11), BENCH_METERS (10,000), BENCH_DAY_RATE (200), BENCH_CONNECTIONS (20),
 * BENCH_SECONDS (30).
 */
const DATABASE_URL = process.env.BENCH_DATABASE_URL;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/11';
const METERS = Number(process.env.BENCH_METERS ?? 10_000);
const RATE = Number(process.env.BENCH_DAY_RATE ?? 200);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const READINGS_PER_DAY = 4 * 48;
const DATABASE_ALONE_APPLICATION = 'hes-bench-day';

/**
 * rawPage for `count` meters, one started every 1/RATE s whether or not the earlier ones have finished:
 * latency, and the PostgreSQL backends' CPU per query (the pool is full by then, so the same backends throughout).
 */
async function databaseAlone(
  pool: Pool,
  repository: ReadingsRepository,
  meters: string[],
  fromMs: number,
  toMs: number,
  count: number,
): Promise<{ latencyMs: Percentiles; backendCpuMicrosPerQuery: number }> {
  const cpuBefore = await backendCpuMicros(pool, DATABASE_ALONE_APPLICATION);
  const latencies: number[] = [];
  const reads: Promise<void>[] = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const dueAt = started + (i * 1000) / RATE;
    const wait = dueAt - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    reads.push(
      repository
        .rawPage(meters[i % meters.length], fromMs, toMs, undefined, undefined, 1001, null)
        .then((rows) => {
          if (rows.length !== READINGS_PER_DAY)
            throw new Error(`${rows.length} readings, not ${READINGS_PER_DAY}`);
          latencies.push(performance.now() - dueAt);
        }),
    );
  }
  await Promise.all(reads);
  const cpuUsed = (await backendCpuMicros(pool, DATABASE_ALONE_APPLICATION)) - cpuBefore;
  return { latencyMs: percentiles(latencies), backendCpuMicrosPerQuery: Math.round(cpuUsed / count) };
}

async function main(): Promise<void> {
  if (!DATABASE_URL) throw new Error('BENCH_DATABASE_URL (a database bench/api/main.ts kept) is required');
  const pool = createPool(DATABASE_URL, { max: 10, applicationName: DATABASE_ALONE_APPLICATION });
  const workDir = mkdtempSync(join(tmpdir(), 'hes-bench-day-'));
  try {
    const newest = await pool.query<{ ms: number }>(
      `SELECT extract(epoch FROM max(ts)) * 1000 AS ms FROM readings WHERE meter_id = $1`,
      [meterIdOf(0)],
    );
    // main.ts seeded slots up to endMs (its newest reading lies in the last slot) and reads [endMs - 2d, endMs - 1d).
    const endMs = Math.floor(Number(newest.rows[0].ms) / SLOT_MS) * SLOT_MS + SLOT_MS;
    const fromMs = endMs - 2 * DAY_MS;
    const toMs = endMs - DAY_MS;
    const meters = Array.from({ length: METERS }, (_, n) => meterIdOf((n * 7_919) % METERS));

    const repository = new ReadingsRepository(pool);
    // Warm-up: the pool opens its connections and their backends load the catalog.
    await databaseAlone(pool, repository, meters, fromMs, toMs, 2 * RATE);
    const database = await databaseAlone(pool, repository, meters, fromMs, toMs, RATE * SECONDS);

    const server = await startApiServer({ databaseUrl: DATABASE_URL, redisUrl: REDIS_URL, logLevel: 'warn' });
    try {
      const token = await loginBenchViewer(server.baseUrl);
      const from = new Date(fromMs).toISOString();
      const to = new Date(toMs).toISOString();
      const plan = {
        kind: 'rate',
        baseUrl: server.baseUrl,
        token,
        paths: meters.map((id) => `/api/v1/meters/${id}/readings?from=${from}&to=${to}`),
        ratePerSecond: RATE,
        connections: CONNECTIONS,
      } as const;
      await runLoad<RateResult>({ ...plan, seconds: 5 }, workDir);
      const cpuBefore = processCpuMicros(server.pid);
      const api = await runLoad<RateResult>({ ...plan, seconds: SECONDS }, workDir);
      const cpuMicrosPerRequest = Math.round((processCpuMicros(server.pid) - cpuBefore) / api.requests);
      process.stdout.write(
        `${JSON.stringify({
          day: { from, to },
          rate: RATE,
          seconds: SECONDS,
          databaseAloneMs: database,
          api: { ...api, cpuMicrosPerRequest },
          loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
        })}\n`,
      );
    } finally {
      await server.stop();
    }
  } finally {
    await pool.end();
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
