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
  whileCaching,
  type ApiServerProcess,
} from './seed';
import { processTreeCpuMicros, runLoad } from './measure';

/**
 * GET /meters/{id}/latest at a fixed rate against the API in two or more setups, alternated, on a database
 * bench/api/main.ts kept (BENCH_KEEP_DATABASE=1): latency (load.ts, open loop) and CPU per request of the API's
 * whole process tree (the cluster primary and its workers; utime + stime from /proc). `node
 * <compiled>/bench/api/setups.js`. Env: BENCH_REUSE_DATABASE (the kept database's name, required),
 * BENCH_POSTGRES_URL, BENCH_REDIS_URL (default redis://127.0.0.1:6379/7), BENCH_METERS (10,000),
 * BENCH_LATEST_RATE (2,000), BENCH_SECONDS (20), BENCH_WARMUP_SECONDS (5 unmeasured seconds first),
 * BENCH_PAIRS (2 rounds over the setups, every other one in reverse order), BENCH_SETUPS (the setups,
 * space-separated, each a comma-separated list of workers=<API_WORKERS>, api=<CPUs of the API>, load=<CPUs of the
 * load generator> in taskset's list syntax, ingest=<readings/s written into Redis meanwhile by ReadingCache, as the
 * decryptor does>, batch=<readings per write, default 3,000>, cap=<the writer's ReadingCache maxReadingsPerCall,
 * default the cache's own>; default "workers=1 workers=2": API_WORKERS 1 against 2, on any CPU, no ingestion).
 */
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/7';
const DATABASE = process.env.BENCH_REUSE_DATABASE;
const METERS = Number(process.env.BENCH_METERS ?? 10_000);
const RATE = Number(process.env.BENCH_LATEST_RATE ?? 2_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 5);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 2);

/** One way of running the API and its load generator. */
interface Setup {
  label: string;
  workers: number;
  apiCpus?: string;
  loadCpus?: string;
  /** Readings per second written into Redis meanwhile, as the decryptor does while meters report (0: none). */
  ingestPerSecond: number;
  /** Readings per applyReadings call of that writer. */
  ingestBatch: number;
  /** The writer's ReadingCache maxReadingsPerCall (readings per script call); its default when not given. */
  ingestCap?: number;
}

const positiveInteger = (value: string | undefined) =>
  value !== undefined && Number.isInteger(Number(value)) && Number(value) >= 1;

function parseSetups(text: string): Setup[] {
  return text
    .split(/\s+/)
    .filter(Boolean)
    .map((label) => {
      const setup: Setup = { label, workers: 1, ingestPerSecond: 0, ingestBatch: 3000 };
      for (const part of label.split(',')) {
        const [name, value] = part.split('=');
        if (name === 'workers' && positiveInteger(value)) setup.workers = Number(value);
        else if (name === 'api' && value) setup.apiCpus = value;
        else if (name === 'load' && value) setup.loadCpus = value;
        else if (name === 'ingest' && positiveInteger(value)) setup.ingestPerSecond = Number(value);
        else if (name === 'batch' && positiveInteger(value)) setup.ingestBatch = Number(value);
        else if (name === 'cap' && positiveInteger(value)) setup.ingestCap = Number(value);
        else
          throw new Error(
            `BENCH_SETUPS: '${part}' in '${label}' is not workers=<n>, api=<cpus>, load=<cpus>, ingest=<n>, batch=<n> or cap=<n>`,
          );
      }
      return setup;
    });
}

const SETUPS = parseSetups(process.env.BENCH_SETUPS ?? 'workers=1 workers=2');

async function measure(databaseUrl: string, setup: Setup, workDir: string): Promise<void> {
  const server: ApiServerProcess = await startApiServer({
    databaseUrl,
    redisUrl: REDIS_URL,
    logLevel: 'warn',
    workers: setup.workers,
    cpus: setup.apiCpus,
  });
  try {
    const token = await loginBenchViewer(server.baseUrl);
    const paths = Array.from({ length: METERS }, (_, n) => `/api/v1/meters/${meterIdOf(n)}/latest`);
    const plan = { kind: 'rate', baseUrl: server.baseUrl, token, paths, connections: 50 } as const;
    const load = loadavg()[0].toFixed(1);
    const cpuBefore = processTreeCpuMicros(server.pid);
    const run = () =>
      runLoad<RateResult>(
        { ...plan, ratePerSecond: RATE, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS },
        workDir,
        setup.loadCpus,
      );
    let result: RateResult;
    if (setup.ingestPerSecond > 0) {
      const ingesting = await whileCaching(
        {
          redisUrl: REDIS_URL,
          meters: METERS,
          readingsPerSecond: setup.ingestPerSecond,
          readingsPerBatch: setup.ingestBatch,
          cacheOptions: { maxReadingsPerCall: setup.ingestCap },
        },
        run,
      );
      log(`${setup.label}: cache writer ${JSON.stringify(ingesting.written)}`);
      result = ingesting.result;
    } else result = await run();
    // The warm-up's requests are served in the same CPU interval and do the same work.
    const cpuPerRequest =
      (processTreeCpuMicros(server.pid) - cpuBefore) / (result.requests + RATE * WARMUP_SECONDS);
    log(
      `${setup.label}: latest at ${RATE}/s for ${SECONDS} s (load average ${load} before): ` +
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
  const workDir = mkdtempSync(join(tmpdir(), 'hes-bench-api-setups-'));
  try {
    await cacheLatestValues(database.pool, REDIS_URL);
    for (let pair = 0; pair < PAIRS; pair++) {
      for (const setup of pair % 2 === 0 ? SETUPS : [...SETUPS].reverse())
        await measure(database.url, setup, workDir);
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
