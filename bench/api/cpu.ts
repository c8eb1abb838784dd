import { hashPassword, UserRepository } from '@hes/auth';
import { ReadingCache, type CachedReading } from '@hes/cache';
import { createPool, runMigrations } from '@hes/storage';
import autocannon from 'autocannon';
import Redis from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from 'pg';

/**
 * CPU per request of the API on the two hot GET paths (latest value, one meter one day), measured so that machine
 * load does not enter the figure: the server's own utime + stime (/proc/<pid>/stat, all threads) over a fixed
 * number of requests, divided by that number. A small fresh database (BENCH_METERS meters, 2 days of half-hourly
 * readings, 4 series each) is enough, since per-request work, not the data size, is measured; latency is not.
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
const SLOT_MS = 30 * 60_000;
const DAY_MS = 86_400_000;
const SLOTS = 96;
const PASSWORD = 'bench password, not a secret';
/** Linux clock ticks per second (USER_HZ), the unit of utime and stime in /proc/<pid>/stat. */
const CLOCK_TICKS_PER_SECOND = 100;

const meterIdOf = (n: number) => `B3${n.toString(16).toUpperCase().padStart(6, '0')}`;

/** utime + stime of a process in microseconds. */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS_PER_SECOND;
}

function startServer(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; port: number }> {
  const profile = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  const child = spawn(process.execPath, [...profile, join(__dirname, 'server.js')], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`API exited with ${code}`)));
    lines.on('line', (line) => {
      const match = /^\{"port":(\d+)\}$/.exec(line);
      if (!match) return;
      child.removeAllListeners('exit');
      resolve({ child, port: Number(match[1]) });
    });
  });
}

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
  const databaseName = `hes_bench_api_cpu_${Date.now()}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${databaseName}`);
  const databaseUrl = new URL(ADMIN_URL);
  databaseUrl.pathname = `/${databaseName}`;
  const pool = createPool(databaseUrl.toString(), { max: 2 });
  const redis = new Redis(REDIS_URL);
  let server: ChildProcess | undefined;
  try {
    await runMigrations(pool, { dialect: 'postgres' });
    const endMs = Math.floor(Date.now() / SLOT_MS) * SLOT_MS;
    const startMs = endMs - SLOTS * SLOT_MS;
    const societyId = (
      await pool.query<{ id: string }>(`INSERT INTO societies (name) VALUES ('bench') RETURNING id`)
    ).rows[0].id;
    await pool.query(
      `INSERT INTO meters (meter_id, manufacturer, device_type, version, society_id)
       SELECT 'B3' || upper(lpad(to_hex(n), 6, '0')), 'KAM', 22, 27, $1 FROM generate_series(0, $2::int - 1) AS n`,
      [societyId, METERS],
    );
    const days: string[] = [];
    for (let day = startMs - (startMs % DAY_MS); day <= endMs + DAY_MS; day += DAY_MS) {
      days.push(new Date(day).toISOString().slice(0, 10));
    }
    await pool.query('SELECT readings_ensure_partitions($1::date[])', [days]);
    await pool.query(
      `INSERT INTO readings (meter_id, ts, quantity, storage, tariff, unit, value, source)
       SELECT 'B3' || upper(lpad(to_hex(n), 6, '0')), $1::timestamptz + s * INTERVAL '30 minutes',
              q.quantity, q.storage, 0, q.unit, 100 + n * 0.01 + s * 0.005, 'gateway'
       FROM generate_series(0, $2::int - 1) AS n CROSS JOIN generate_series(0, $3::int - 1) AS s
       CROSS JOIN (VALUES ('total_m3', 0, 'm3'), ('target_m3', 1, 'm3'), ('flow_temperature_c', 0, 'c'),
                          ('external_temperature_c', 0, 'c')) AS q(quantity, storage, unit)`,
      [new Date(startMs), METERS, SLOTS],
    );
    await pool.query('VACUUM ANALYZE readings, meters');
    const latest = await pool.query<{
      meter_id: string;
      quantity: string;
      storage: number;
      unit: string;
      value: number;
      ts: Date;
    }>(
      `SELECT DISTINCT ON (meter_id, quantity, storage, tariff) meter_id, quantity, storage, unit, value, ts
       FROM readings ORDER BY meter_id, quantity, storage, tariff, ts DESC`,
    );
    const cache = new ReadingCache({ url: REDIS_URL, windowMs: 1 });
    await cache.connect();
    await cache.applyReadings(
      latest.rows.map((row): CachedReading => ({
        meterId: row.meter_id,
        meterGroup: 'bench',
        quantity: row.quantity,
        storage: row.storage,
        tariff: 0,
        unit: row.unit,
        value: row.value,
        ts: row.ts.getTime(),
      })),
    );
    await cache.close();
    const users = new UserRepository(pool);
    const user = await users.create({
      email: 'bench@example.org',
      displayName: 'bench',
      passwordHash: await hashPassword(PASSWORD),
    });
    await users.setMembership(user.id, societyId, 'viewer');

    const started = await startServer({
      ...process.env,
      DATABASE_URL: databaseUrl.toString(),
      REDIS_URL,
      API_MIGRATE_ON_START: 'false',
      API_RATE_LIMIT_PER_MINUTE: '1000000',
      LOG_LEVEL,
      NODE_ENV: 'development',
    });
    server = started.child;
    const baseUrl = `http://127.0.0.1:${started.port}`;
    const login = await fetch(`${baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'bench@example.org', password: PASSWORD }),
    });
    const token = ((await login.json()) as { accessToken: string }).accessToken;
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
    const results: Record<string, { requests: number; cpuMicrosPerRequest: number }> = {};
    for (const run of runs) {
      // Warm-up: JIT, connection pools and caches reach their steady state before the counted requests.
      await fire(baseUrl, token, run.paths, Math.min(5_000, REQUESTS));
      const before = cpuMicros(server.pid!);
      const requests = await fire(baseUrl, token, run.paths, REQUESTS);
      const used = cpuMicros(server.pid!) - before;
      results[run.name] = { requests, cpuMicrosPerRequest: Math.round(used / requests) };
    }
    process.stdout.write(
      `${JSON.stringify({ logLevel: LOG_LEVEL, meters: METERS, loadAverage: loadavg().map((l) => Number(l.toFixed(2))), results })}\n`,
    );
  } finally {
    if (server) {
      const exited = new Promise((resolve) => server!.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    const keys = await redis.keys('hes:*');
    for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
    redis.disconnect();
    await pool.end();
    await admin.query(`DROP DATABASE ${databaseName} WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
