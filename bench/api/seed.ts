import { hashPassword, UserRepository } from '@hes/auth';
import { ReadingCache, type CachedReading, type ReadingCacheOptions } from '@hes/cache';
import { createPool, runMigrations } from '@hes/storage';
import type Redis from 'ioredis';
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client, type Pool } from 'pg';
import { nodeCommand } from './measure';

/**
 * The set-up the API benches share: a fresh migrated database, one society of meters with half-hourly (or
 * coarser) readings and their 30-minute rollups, the latest values in Redis as the decryptor leaves them, a viewer
 * who logs in, and the real API in a process of its own (server.ts).
 */

export const SLOT_MS = 30 * 60_000;
export const DAY_MS = 86_400_000;
const METERS_PER_STATEMENT = 1_000;
const BENCH_USER = { email: 'bench@example.org', password: 'bench password, not a secret' };

/**
 * The id of bench meter `n`: a two-character prefix and n in 6 hex digits. bench/ws uses a prefix of its own: Redis
 * pub/sub channels are shared by all database numbers, so its meters must not be bench/api's.
 */
export const meterIdOf = (n: number, prefix = 'B3') =>
  `${prefix}${n.toString(16).toUpperCase().padStart(6, '0')}`;

/** One line on stdout with the time and the machine's load average (the benches share a 2-core machine). */
export function log(message: string): void {
  process.stdout.write(
    `[${new Date().toISOString()}] ${message} (load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')})\n`,
  );
}

export async function timed<T>(label: string, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await run();
  log(`${label}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

export interface BenchDatabase {
  readonly url: string;
  readonly pool: Pool;
  /** Closes the pool and drops the database unless `keep`. */
  close(keep?: boolean): Promise<void>;
}

/** A fresh database named `<prefix>_<now>` on the server of `adminUrl`, migrated (plain dialect). */
export async function createBenchDatabase(adminUrl: string, prefix: string): Promise<BenchDatabase> {
  const name = `${prefix}_${Date.now()}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), { max: 4 });
  log(`database ${name}`);
  await runMigrations(pool, { dialect: 'postgres' });
  return {
    url: url.toString(),
    pool,
    close: async (keep = false) => {
      await pool.end();
      if (!keep) await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** A database an earlier run kept (BENCH_KEEP_DATABASE=1), opened as it is: close() never drops it. */
export function openBenchDatabase(adminUrl: string, name: string): BenchDatabase {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), { max: 4 });
  log(`database ${name} (reused)`);
  return { url: url.toString(), pool, close: () => pool.end() };
}

/** A series every meter reports, its value a SQL expression of `n` (the meter's number) and `s` (the slot). */
export interface SeededSeries {
  quantity: string;
  storage: number;
  unit: string;
  valueSql: string;
}

/**
 * The billing register total_m3 (rising), the due-date register target_m3 (storage 1), flow and external
 * temperature.
 */
export const METER_SERIES: readonly SeededSeries[] = [
  { quantity: 'total_m3', storage: 0, unit: 'm3', valueSql: '100 + n * 0.01 + s * 0.005' },
  { quantity: 'target_m3', storage: 1, unit: 'm3', valueSql: '100 + n * 0.01' },
  { quantity: 'flow_temperature_c', storage: 0, unit: 'c', valueSql: '10 + (s % 10)' },
  { quantity: 'external_temperature_c', storage: 0, unit: 'c', valueSql: '5 + (n % 7)' },
];

export interface ReadingsPlan {
  meters: number;
  /** Readings per series and meter, one per slot, the last slot ending at `endMs`. */
  slots: number;
  /** Slot length, a multiple of 30 minutes so that each reading is its own 30-minute rollup (SLOT_MS). */
  slotMs?: number;
  endMs: number;
  series?: readonly SeededSeries[];
  /** Meters n with n % silentEvery === 0 report nothing in slots silentSlots[0]..silentSlots[1] (gaps). */
  silentEvery?: number;
  silentSlots?: readonly [number, number];
}

export interface SeededReadings {
  readings: number;
  rollups: number;
}

export interface SeededMeters extends SeededReadings {
  societyId: string;
}

/** One society with `meters` meters (meterIdOf(0 .. meters - 1, prefix)); returns the society's id. */
export async function seedMeters(pool: Pool, meters: number, prefix = 'B3'): Promise<string> {
  const societyId = (
    await pool.query<{ id: string }>(`INSERT INTO societies (name) VALUES ('bench') RETURNING id`)
  ).rows[0].id;
  await pool.query(
    `INSERT INTO meters (meter_id, manufacturer, device_type, version, society_id)
     SELECT $3 || upper(lpad(to_hex(n), 6, '0')), 'KAM', 22, 27, $1 FROM generate_series(0, $2::int - 1) AS n`,
    [societyId, meters, prefix],
  );
  return societyId;
}

/** seedMeters, then seedReadings of one plan. */
export async function seedMetersAndReadings(pool: Pool, plan: ReadingsPlan): Promise<SeededMeters> {
  const societyId = await seedMeters(pool, plan.meters);
  return { societyId, ...(await seedReadings(pool, plan)) };
}

/**
 * The readings of the meters seedMeters created: each reporting every series once per slot at a per-meter
 * minute offset (n % 30), bulk-loaded with INSERT ... SELECT generate_series (1,000 meters per statement).
 * `readings_30m` is then filled from the loaded rows instead of by the writer's per-batch upsert: every series has
 * exactly one reading per 30-minute bucket, so each reading is its own rollup row (first = last = min = max = sum
 * = value, count 1), and the rollups' primary key would reject the load if a bucket ever held two. Several plans
 * may load one database when their time ranges do not overlap (e.g. a coarse history, then recent half-hours).
 */
export async function seedReadings(pool: Pool, plan: ReadingsPlan): Promise<SeededReadings> {
  const slotMs = plan.slotMs ?? SLOT_MS;
  if (slotMs % SLOT_MS !== 0) throw new Error(`slotMs ${slotMs} is not a multiple of 30 minutes`);
  const series = plan.series ?? METER_SERIES;
  const [silentFrom, silentTo] = plan.silentSlots ?? [0, -1];
  const startMs = plan.endMs - plan.slots * slotMs;
  const days: string[] = [];
  for (let day = startMs - (startMs % DAY_MS); day <= plan.endMs + DAY_MS; day += DAY_MS) {
    days.push(new Date(day).toISOString().slice(0, 10));
  }
  await pool.query('SELECT readings_ensure_partitions($1::date[])', [days]);
  // $1-$8 the slots and silences, then three parameters (quantity, storage, unit) per series.
  const seriesValues = series
    .map((_, i) => `($${9 + 3 * i}::text, $${10 + 3 * i}::int, $${11 + 3 * i}::text, ${i})`)
    .join(', ');
  const valueCases = series.map((one, i) => `WHEN ${i} THEN ${one.valueSql}`).join(' ');
  const insertReadings = `
    INSERT INTO readings (meter_id, ts, quantity, storage, tariff, unit, value, source)
    SELECT 'B3' || upper(lpad(to_hex(n), 6, '0')),
           $1::timestamptz + s * $5::interval + (n % 30) * INTERVAL '1 minute',
           q.quantity, q.storage, 0, q.unit, CASE q.position ${valueCases} END, 'gateway'
    FROM generate_series($2::int, $3::int) AS n
    CROSS JOIN generate_series(0, $4::int - 1) AS s
    CROSS JOIN (VALUES ${seriesValues}) AS q(quantity, storage, unit, position)
    WHERE NOT (n % $6::int = 0 AND s BETWEEN $7::int AND $8::int)`;
  const seriesParameters = series.flatMap((one) => [one.quantity, one.storage, one.unit]);
  let readings = 0;
  await timed(
    `bulk load of readings (INSERT ... SELECT generate_series, ${METERS_PER_STATEMENT} meters per statement)`,
    async () => {
      for (let first = 0; first < plan.meters; first += METERS_PER_STATEMENT) {
        const last = Math.min(first + METERS_PER_STATEMENT, plan.meters) - 1;
        const result = await pool.query(insertReadings, [
          new Date(startMs),
          first,
          last,
          plan.slots,
          `${slotMs} milliseconds`,
          plan.silentEvery ?? 1,
          silentFrom,
          silentTo,
          ...seriesParameters,
        ]);
        readings += result.rowCount ?? 0;
      }
    },
  );
  let rollups = 0;
  await timed(
    'readings_30m from the loaded rows (INSERT ... SELECT, one rollup row per reading)',
    async () => {
      for (let first = 0; first < plan.meters; first += METERS_PER_STATEMENT) {
        const end =
          first + METERS_PER_STATEMENT >= plan.meters ? 'B4' : meterIdOf(first + METERS_PER_STATEMENT);
        const result = await pool.query(
          `INSERT INTO readings_30m (bucket, meter_id, quantity, storage, tariff, unit, first_ts, first_value,
                                   last_ts, last_value, min_value, max_value, sum_value, reading_count)
         SELECT date_bin(INTERVAL '30 minutes', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
                meter_id, quantity, storage, tariff, unit, ts, value, ts, value, value, value, value, 1
         FROM readings
         WHERE meter_id >= $1 AND meter_id < $2 AND ts >= $3 AND ts < $4`,
          [meterIdOf(first), end, new Date(startMs), new Date(plan.endMs)],
        );
        rollups += result.rowCount ?? 0;
      }
    },
  );
  // A bulk load leaves no statistics and no visibility map; autovacuum would catch up later, this does it now.
  await timed('VACUUM ANALYZE', () => pool.query('VACUUM ANALYZE readings, readings_30m, meters'));
  log(`seeded ${readings} readings, ${rollups} readings_30m rows, ${plan.meters} meters`);
  return { readings, rollups };
}

/** The latest value of every series read in the last two days into Redis, as the decryptor leaves them. */
export async function cacheLatestValues(pool: Pool, redisUrl: string): Promise<number> {
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
  const cache = new ReadingCache({ url: redisUrl, windowMs: 1 });
  await cache.connect();
  const readings = rows.rows.map((row): CachedReading => ({
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
  log(`cached ${readings.length} latest values in Redis`);
  return readings.length;
}

export interface CacheWriterPlan {
  redisUrl: string;
  /** Meters written to: meterIdOf(0 .. meters - 1), in turn. */
  meters: number;
  readingsPerSecond: number;
  /** Readings per applyReadings call: one decryptor batch (a Kafka fetch's telegrams, four registers each). */
  readingsPerBatch: number;
  cacheOptions?: Partial<ReadingCacheOptions>;
}

export interface CacheWriterResult {
  batches: number;
  readings: number;
  /** Batches that were due while the previous one was still being written (sent late, none dropped). */
  lateBatches: number;
  /** Wall time of the slowest applyReadings call, ms. */
  maxBatchMs: number;
}

/**
 * Fresh readings of the seeded meters written into Redis with ReadingCache.applyReadings at a steady rate, in
 * batches the size of the decryptor's, until stop(): the cache writes that the API's reads share Redis with while
 * meters report. Four series per meter, as seeded; a reading's ts is the instant its batch is made.
 */
async function startCacheWriter(plan: CacheWriterPlan): Promise<{ stop(): Promise<CacheWriterResult> }> {
  const cache = new ReadingCache({ url: plan.redisUrl, ...plan.cacheOptions });
  if (!(await cache.connect())) throw new Error(`cache writer: cannot connect to ${plan.redisUrl}`);
  const result: CacheWriterResult = { batches: 0, readings: 0, lateBatches: 0, maxBatchMs: 0 };
  const intervalMs = (plan.readingsPerBatch / plan.readingsPerSecond) * 1000;
  let nextMeter = 0;
  let stopped = false;
  const batchOf = (ts: number): CachedReading[] => {
    const readings: CachedReading[] = [];
    while (readings.length < plan.readingsPerBatch) {
      const meterId = meterIdOf(nextMeter);
      nextMeter = (nextMeter + 1) % plan.meters;
      for (const series of METER_SERIES)
        readings.push({
          meterId,
          meterGroup: 'bench',
          quantity: series.quantity,
          storage: series.storage,
          tariff: 0,
          unit: series.unit,
          value: 100 + (ts % 100_000) / 1000,
          ts,
        });
    }
    return readings;
  };
  const started = performance.now();
  const running = (async () => {
    while (!stopped) {
      const dueAt = started + result.batches * intervalMs;
      const wait = dueAt - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      else if (result.batches > 0) result.lateBatches++;
      if (stopped) break;
      const readings = batchOf(Date.now());
      const callStarted = performance.now();
      await cache.applyReadings(readings);
      result.maxBatchMs = Math.max(
        result.maxBatchMs,
        Math.round((performance.now() - callStarted) * 10) / 10,
      );
      result.batches++;
      result.readings += readings.length;
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await running;
      await cache.close();
      return result;
    },
  };
}

/** Runs `work` while a cache writer writes (startCacheWriter), and stops the writer however `work` ends. */
export async function whileCaching<T>(
  plan: CacheWriterPlan,
  work: () => Promise<T>,
): Promise<{ result: T; written: CacheWriterResult }> {
  const writer = await startCacheWriter(plan);
  try {
    const result = await work();
    return { result, written: await writer.stop() };
  } catch (error) {
    await writer.stop();
    throw error;
  }
}

/** Deletes the keys matching `pattern` (e.g. `hes:*`), 1,000 per DEL. */
export async function deleteRedisKeys(redis: Redis, pattern: string): Promise<void> {
  const keys = await redis.keys(pattern);
  for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
}

/** The bench user, a viewer of the society. */
export async function createBenchViewer(pool: Pool, societyId: string): Promise<void> {
  const users = new UserRepository(pool);
  const user = await users.create({
    email: BENCH_USER.email,
    displayName: 'bench',
    passwordHash: await hashPassword(BENCH_USER.password),
  });
  await users.setMembership(user.id, societyId, 'viewer');
}

export interface ApiServerProcess {
  readonly baseUrl: string;
  readonly pid: number;
  /** SIGTERM, then the process's stdout and stderr lines once it has exited. */
  stop(): Promise<string[]>;
}

export interface ApiServerOptions {
  databaseUrl: string;
  redisUrl: string;
  logLevel: string;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeFlags?: string[];
  /** API_WORKERS of the server: processes sharing its port (1 by default). */
  workers?: number;
  /** CPUs the server (and its workers) may run on, taskset's list syntax; default BENCH_API_CPUS, else any. */
  cpus?: string;
}

/**
 * The real API (server.ts) in its own process, configured from the environment like a deployment, with the rate
 * limit raised out of the way (1,000,000 per minute).
 */
export function startApiServer(options: ApiServerOptions): Promise<ApiServerProcess> {
  const [command, args] = nodeCommand(
    [...(options.nodeFlags ?? []), join(__dirname, 'server.js')],
    options.cpus ?? process.env.BENCH_API_CPUS,
  );
  const child = spawn(command, args, {
    env: {
      ...process.env,
      DATABASE_URL: options.databaseUrl,
      REDIS_URL: options.redisUrl,
      API_MIGRATE_ON_START: 'false',
      API_RATE_LIMIT_PER_MINUTE: '1000000',
      API_WORKERS: String(options.workers ?? 1),
      LOG_LEVEL: options.logLevel,
      NODE_ENV: 'development',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const lines = createInterface({ input: child.stdout });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`API exited with ${code}: ${output.join('')}`)));
    lines.on('line', (line) => {
      output.push(line);
      const match = /^\{"port":(\d+)\}$/.exec(line);
      if (!match) return;
      child.removeAllListeners('exit');
      resolve({
        baseUrl: `http://127.0.0.1:${match[1]}`,
        pid: child.pid!,
        stop: () =>
          new Promise((done) => {
            child.once('exit', () => done(output));
            child.kill('SIGTERM');
          }),
      });
    });
  });
}

/** The bench viewer's access token. */
export async function loginBenchViewer(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(BENCH_USER),
  });
  if (!response.ok) throw new Error(`login: HTTP ${response.status}`);
  return ((await response.json()) as { accessToken: string }).accessToken;
}
