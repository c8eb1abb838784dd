import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RateResult } from './load';
import {
  cacheLatestValues,
  log,
  loginBenchViewer,
  meterIdOf,
  openBenchDatabase,
  startApiServer,
  type ApiServerProcess,
} from './seed';
import { processTreeCpuMicros, runLoad } from './measure';

/**
 * GET /meters/{id}/latest at a fixed rate against the API with API_WORKERS 1 and N, alternated, on a database
 * bench/api/main.ts kept (BENCH_KEEP_DATABASE=1): latency (load.ts, open loop) and CPU per request of the API's
 * whole process tree (the cluster primary and its workers; utime + stime from /proc). `node
 * <compiled>/bench/api/workers.js`. Env: BENCH_REUSE_DATABASE (the kept database's name, required),
 * BENCH_POSTGRES_URL, BENCH_REDIS_URL (default redis://127.0.0.1:6379/7), BENCH_METERS (10,000),
 * BENCH_LATEST_RATE (2,000), BENCH_SECONDS (20), BENCH_API_WORKERS (2: the N), BENCH_PAIRS (2 pairs of runs).
 */
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/7';
const DATABASE = process.env.BENCH_REUSE_DATABASE;
const METERS = Number(process.env.BENCH_METERS ?? 10_000);
const RATE = Number(process.env.BENCH_LATEST_RATE ?? 2_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const WORKERS = Number(process.env.BENCH_API_WORKERS ?? 2);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 2);

async function measure(databaseUrl: string, workers: number, workDir: string): Promise<void> {
  const server: ApiServerProcess = await startApiServer({
    databaseUrl,
    redisUrl: REDIS_URL,
    logLevel: 'warn',
    workers,
  });
  try {
    const token = await loginBenchViewer(server.baseUrl);
    const paths = Array.from({ length: METERS }, (_, n) => `/api/v1/meters/${meterIdOf(n)}/latest`);
    const plan = { kind: 'rate', baseUrl: server.baseUrl, token, paths, connections: 50 } as const;
    await runLoad<RateResult>({ ...plan, ratePerSecond: 500, seconds: 5 }, workDir);
    const load = loadavg()[0].toFixed(1);
    const cpuBefore = processTreeCpuMicros(server.pid);
    const result = await runLoad<RateResult>({ ...plan, ratePerSecond: RATE, seconds: SECONDS }, workDir);
    const cpuPerRequest = (processTreeCpuMicros(server.pid) - cpuBefore) / result.requests;
    log(
      `API_WORKERS=${workers}, latest at ${RATE}/s for ${SECONDS} s (load average ${load} before): ` +
        `${cpuPerRequest.toFixed(0)} µs CPU/request; ${JSON.stringify(result)}`,
    );
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  if (!DATABASE)
    throw new Error('BENCH_REUSE_DATABASE: the name of a database bench/api/main.ts kept is required');
  const database = openBenchDatabase(ADMIN_URL, DATABASE);
  const workDir = mkdtempSync(join(tmpdir(), 'hes-bench-api-workers-'));
  try {
    await cacheLatestValues(database.pool, REDIS_URL);
    for (let pair = 0; pair < PAIRS; pair++) {
      for (const workers of pair % 2 === 0 ? [1, WORKERS] : [WORKERS, 1])
        await measure(database.url, workers, workDir);
    }
  } finally {
    await database.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
