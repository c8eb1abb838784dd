import { hashPassword, UserRepository } from '@hes/auth';
import { ReadingCache, type CachedReading } from '@hes/cache';
import { createPool, runMigrations } from '@hes/storage';
import Redis from 'ioredis';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client, type Pool } from 'pg';
import type { LoadPlan, RateResult, SequentialResult } from './load';

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
const SLOT_MS = 30 * 60_000;
const DAY_MS = 86_400_000;
const METERS_PER_STATEMENT = 1_000;
const PASSWORD = 'bench password, not a secret';

/**
 * Four series per meter, each reporting once per half-hour slot at a per-meter minute offset: the billing
 * register total_m3 (rising), the due-date register target_m3 (storage 1), flow and external temperature.
 * One meter in a hundred is silent for 30 hours (slots 100-159): the consumption answer flags those gaps.
 */
const SEED_READINGS = `
  INSERT INTO readings (meter_id, ts, quantity, storage, tariff, unit, value, source)
  SELECT 'B3' || upper(lpad(to_hex(n), 6, '0')),
         $1::timestamptz + s * INTERVAL '30 minutes' + (n % 30) * INTERVAL '1 minute',
         q.quantity, q.storage, 0, q.unit,
         CASE q.quantity
           WHEN 'total_m3' THEN 100 + n * 0.01 + s * 0.005
           WHEN 'target_m3' THEN 100 + n * 0.01
           WHEN 'flow_temperature_c' THEN 10 + (s % 10)
           ELSE 5 + (n % 7)
         END,
         'gateway'
  FROM generate_series($2::int, $3::int) AS n
  CROSS JOIN generate_series(0, $4::int - 1) AS s
  CROSS JOIN (VALUES ('total_m3', 0, 'm3'), ('target_m3', 1, 'm3'), ('flow_temperature_c', 0, 'c'),
                     ('external_temperature_c', 0, 'c')) AS q(quantity, storage, unit)
  WHERE NOT (n % 100 = 0 AND s BETWEEN 100 AND 159)`;

/**
 * The plain dialect's rollups for the bulk-loaded rows. Every series has exactly one reading per 30-minute bucket
 * (half-hour slots, minute offset below 30), so each reading is its own rollup row: first = last = min = max =
 * sum = value, count 1. No GROUP BY needed, and the rollups' primary key would reject the load if a bucket ever
 * held two readings of a series.
 */
const SEED_ROLLUPS = `
  INSERT INTO readings_30m (bucket, meter_id, quantity, storage, tariff, unit, first_ts, first_value,
                            last_ts, last_value, min_value, max_value, sum_value, reading_count)
  SELECT date_bin(INTERVAL '30 minutes', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
         meter_id, quantity, storage, tariff, unit, ts, value, ts, value, value, value, value, 1
  FROM readings
  WHERE meter_id >= $1 AND meter_id < $2`;

const meterIdOf = (n: number) => `B3${n.toString(16).toUpperCase().padStart(6, '0')}`;

function log(message: string): void {
  process.stdout.write(
    `[${new Date().toISOString()}] ${message} (load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')})\n`,
  );
}

async function timed<T>(label: string, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await run();
  log(`${label}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

async function seed(
  pool: Pool,
  startMs: number,
): Promise<{ societyId: string; readings: number; rollups: number }> {
  const societyId = (
    await pool.query<{ id: string }>(`INSERT INTO societies (name) VALUES ('bench') RETURNING id`)
  ).rows[0].id;
  await pool.query(
    `INSERT INTO meters (meter_id, manufacturer, device_type, version, society_id)
     SELECT 'B3' || upper(lpad(to_hex(n), 6, '0')), 'KAM', 22, 27, $1 FROM generate_series(0, $2::int - 1) AS n`,
    [societyId, METERS],
  );
  const days: string[] = [];
  for (let day = startMs - (startMs % DAY_MS); day <= startMs + SLOTS * SLOT_MS + DAY_MS; day += DAY_MS) {
    days.push(new Date(day).toISOString().slice(0, 10));
  }
  await pool.query('SELECT readings_ensure_partitions($1::date[])', [days]);
  let readings = 0;
  await timed(
    `bulk load of readings (INSERT ... SELECT generate_series, ${METERS_PER_STATEMENT} meters per statement)`,
    async () => {
      for (let first = 0; first < METERS; first += METERS_PER_STATEMENT) {
        const last = Math.min(first + METERS_PER_STATEMENT, METERS) - 1;
        const result = await pool.query(SEED_READINGS, [new Date(startMs), first, last, SLOTS]);
        readings += result.rowCount ?? 0;
      }
    },
  );
  let rollups = 0;
  await timed(
    'readings_30m from the loaded rows (INSERT ... SELECT, one rollup row per reading)',
    async () => {
      for (let first = 0; first < METERS; first += METERS_PER_STATEMENT) {
        const end = first + METERS_PER_STATEMENT >= METERS ? 'B4' : meterIdOf(first + METERS_PER_STATEMENT);
        const result = await pool.query(SEED_ROLLUPS, [meterIdOf(first), end]);
        rollups += result.rowCount ?? 0;
      }
    },
  );
  // A bulk load leaves no statistics and no visibility map; autovacuum would catch up later, this does it now.
  await timed('VACUUM ANALYZE', () => pool.query('VACUUM ANALYZE readings, readings_30m, meters'));
  return { societyId, readings, rollups };
}

/** The latest value of every meter's series into Redis, as the decryptor leaves them. */
async function seedLatest(pool: Pool): Promise<number> {
  const rows = await pool.query<{
    meter_id: string;
    quantity: string;
    storage: number;
    unit: string;
    value: number;
    ts: Date;
  }>(
    `SELECT DISTINCT ON (meter_id, quantity, storage, tariff) meter_id, quantity, storage, unit, value, ts
     FROM readings WHERE ts > now() - INTERVAL '2 days' ORDER BY meter_id, quantity, storage, tariff, ts DESC`,
  );
  const cache = new ReadingCache({ url: REDIS_URL, windowMs: 1 });
  await cache.connect();
  const readings: CachedReading[] = rows.rows.map((row) => ({
    meterId: row.meter_id,
    meterGroup: 'bench',
    quantity: row.quantity,
    storage: row.storage,
    tariff: 0,
    unit: row.unit,
    value: row.value,
    ts: row.ts.getTime(),
  }));
  for (let i = 0; i < readings.length; i += 5_000) await cache.applyReadings(readings.slice(i, i + 5_000));
  await cache.close();
  return readings.length;
}

function startServer(
  env: NodeJS.ProcessEnv,
  logFile: string,
): Promise<{ port: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [join(__dirname, 'server.js')], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const errors: string[] = [];
  child.stderr.on('data', (chunk: Buffer) => errors.push(chunk.toString()));
  const lines = createInterface({ input: child.stdout });
  const logLines: string[] = [];
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`API exited with ${code}: ${errors.join('')}`)));
    lines.on('line', (line) => {
      logLines.push(line);
      const match = /^\{"port":(\d+)\}$/.exec(line);
      if (!match) return;
      child.removeAllListeners('exit');
      resolve({
        port: Number(match[1]),
        stop: () =>
          new Promise((done) => {
            child.once('exit', () => {
              writeFileSync(logFile, [...logLines, ...errors].join('\n'));
              done();
            });
            child.kill('SIGTERM');
          }),
      });
    });
  });
}

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
  const databaseName = `hes_bench_api_${Date.now()}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${databaseName}`);
  const databaseUrl = new URL(ADMIN_URL);
  databaseUrl.pathname = `/${databaseName}`;
  const pool = createPool(databaseUrl.toString(), { max: 4 });
  const workDir = mkdtempSync(join(tmpdir(), 'hes-bench-api-'));
  const redis = new Redis(REDIS_URL);
  let server: { port: number; stop: () => Promise<void> } | undefined;
  try {
    log(`database ${databaseName}`);
    await runMigrations(pool, { dialect: 'postgres' });
    const endMs = Math.floor(Date.now() / SLOT_MS) * SLOT_MS;
    const startMs = endMs - SLOTS * SLOT_MS;
    const seeded = await seed(pool, startMs);
    log(`seeded ${seeded.readings} readings, ${seeded.rollups} readings_30m rows, ${METERS} meters`);
    log(`cached ${await seedLatest(pool)} latest values in Redis`);
    const users = new UserRepository(pool);
    const user = await users.create({
      email: 'bench@example.org',
      displayName: 'bench',
      passwordHash: await hashPassword(PASSWORD),
    });
    await users.setMembership(user.id, seeded.societyId, 'viewer');

    server = await startServer(
      {
        ...process.env,
        DATABASE_URL: databaseUrl.toString(),
        REDIS_URL,
        API_MIGRATE_ON_START: 'false',
        API_RATE_LIMIT_PER_MINUTE: '1000000',
        LOG_LEVEL: 'warn',
        NODE_ENV: 'development',
      },
      join(workDir, 'api.log'),
    );
    const baseUrl = `http://127.0.0.1:${server.port}`;
    const login = await fetch(`${baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'bench@example.org', password: PASSWORD }),
    });
    const token = ((await login.json()) as { accessToken: string }).accessToken;
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
    const keys = await redis.keys('hes:latest:B3*');
    for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
    const fallback = await runLoad<RateResult>(
      { ...warm, ratePerSecond: LATEST_RATE, connections: 50, seconds: Math.min(SECONDS, 15) },
      workDir,
    );
    log(`latest (database fallback, Redis empty) at ${LATEST_RATE}/s: ${JSON.stringify(fallback)}`);
  } finally {
    await server?.stop();
    const keys = await redis.keys('hes:*');
    for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
    redis.disconnect();
    await pool.end();
    if (!KEEP_DATABASE) await admin.query(`DROP DATABASE ${databaseName} WITH (FORCE)`);
    await admin.end();
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
