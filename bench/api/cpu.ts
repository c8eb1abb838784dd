import autocannon from 'autocannon';
import Redis from 'ioredis';
import { loadavg } from 'node:os';
import {
  cacheLatestValues,
  createBenchDatabase,
  createBenchViewer,
  DAY_MS,
  deleteRedisKeys,
  loginBenchViewer,
  meterIdOf,
  seedMetersAndReadings,
  SLOT_MS,
  startApiServer,
  type ApiServerProcess,
} from './seed';
import { backendCpuMicros, processCpuMicros } from './measure';

/**
 * CPU per request of the API on the two hot GET paths (latest value, one meter one day), measured so that machine
 * load does not enter the figure: the server's own utime + stime (/proc/<pid>/stat, all threads) over a fixed
 * number of requests, divided by that number, and the same for the PostgreSQL backends of the API's connections
 * (processes on this machine, so /proc shows them too). A small fresh database (BENCH_METERS meters, 2 days of
 * half-hourly readings, 4 series each) is enough, since per-request work, not the data size, is measured; latency
 * is not.
 * `node <compiled>/bench/api/cpu.js`. Env: BENCH_POSTGRES_URL, BENCH_REDIS_URL (default redis://127.0.0.1:6379/10),
 * BENCH_METERS (200), BENCH_REQUESTS (20,000 per path), BENCH_CONNECTIONS (10), LOG_LEVEL (info, as deployed),
 * BENCH_CPU_PROF_DIR (run the server under `node --cpu-prof` and write its profile there).
 */
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/10';
const METERS = Number(process.env.BENCH_METERS ?? 200);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20_000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const LOG_LEVEL = process.env.LOG_LEVEL ?? 'info';
const PROFILE_DIR = process.env.BENCH_CPU_PROF_DIR;
const SLOTS = 96;

async function fire(baseUrl: string, token: string, paths: string[], amount: number): Promise<number> {
  let next = 0;
  const result = await autocannon({
    url: baseUrl,
    connections: CONNECTIONS,
    amount,
    headers: { authorization: `Bearer ${token}` },
    requests: [
      {
        setupRequest: (request) => {
          const path = paths[next];
          next = (next + 1) % paths.length;
          return { ...request, path };
        },
      },
    ],
  });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${result.non2xx} non-2xx answers, ${result.errors} errors`);
  }
  return result.requests.total;
}

async function main(): Promise<void> {
  const database = await createBenchDatabase(ADMIN_URL, 'hes_bench_api_cpu');
  const redis = new Redis(REDIS_URL);
  let server: ApiServerProcess | undefined;
  try {
    const endMs = Math.floor(Date.now() / SLOT_MS) * SLOT_MS;
    const seeded = await seedMetersAndReadings(database.pool, { meters: METERS, slots: SLOTS, endMs });
    await cacheLatestValues(database.pool, REDIS_URL);
    await createBenchViewer(database.pool, seeded.societyId);
    server = await startApiServer({
      databaseUrl: database.url,
      redisUrl: REDIS_URL,
      logLevel: LOG_LEVEL,
      nodeFlags: PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [],
    });
    const baseUrl = server.baseUrl;
    const token = await loginBenchViewer(baseUrl);
    const meters = Array.from({ length: METERS }, (_, n) => meterIdOf(n));
    const dayFrom = new Date(endMs - DAY_MS).toISOString();
    const dayTo = new Date(endMs).toISOString();
    const runs = [
      { name: 'latest', paths: meters.map((id) => `/api/v1/meters/${id}/latest`) },
      {
        name: 'one meter, one day (192 readings)',
        paths: meters.map((id) => `/api/v1/meters/${id}/readings?from=${dayFrom}&to=${dayTo}`),
      },
    ];
    const results: Record<
      string,
      { requests: number; cpuMicrosPerRequest: number; postgresCpuMicrosPerRequest: number }
    > = {};
    for (const run of runs) {
      // Warm-up: JIT, connection pools and caches reach their steady state before the counted requests; every
      // path at least once, so that what the API remembers per meter is remembered for all of them.
      await fire(baseUrl, token, run.paths, Math.max(Math.min(5_000, REQUESTS), run.paths.length));
      const before = processCpuMicros(server.pid);
      const postgresBefore = await backendCpuMicros(database.pool, 'hes-api');
      const requests = await fire(baseUrl, token, run.paths, REQUESTS);
      const used = processCpuMicros(server.pid) - before;
      const postgresUsed = (await backendCpuMicros(database.pool, 'hes-api')) - postgresBefore;
      results[run.name] = {
        requests,
        cpuMicrosPerRequest: Math.round(used / requests),
        postgresCpuMicrosPerRequest: Math.round(postgresUsed / requests),
      };
    }
    process.stdout.write(
      `${JSON.stringify({ logLevel: LOG_LEVEL, meters: METERS, loadAverage: loadavg().map((l) => Number(l.toFixed(2))), results })}\n`,
    );
  } finally {
    await server?.stop();
    await deleteRedisKeys(redis, 'hes:*');
    redis.disconnect();
    await database.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
