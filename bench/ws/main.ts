import { hashPassword, UserRepository } from '@hes/auth';
import { ReadingCache, type CachedReading } from '@hes/cache';
import { createPool, runMigrations } from '@hes/storage';
import Redis from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from 'pg';
import { meterIdOf, seedMeters } from '../api/seed';

/**
 * Live gateway benchmark: the real API (dist/apps/api/src/main.js) in its own process, BENCH_CLIENTS WebSocket
 * clients in another (bench/ws/clients.js), and this process publishing BENCH_RATE reading updates/s through
 * Redis with ReadingCache.applyReadings, exactly as the decryptor does (batches every BENCH_TICK_MS, one
 * reading per meter and batch, meters in turn). Every reading's ts is its publish time, so the clients measure
 * publish → receive on the same clock. Most clients follow BENCH_METERS_PER_CLIENT meters each (every meter
 * followed by one client); BENCH_DASHBOARDS of them follow the whole society (every meter, coalesced to the
 * gateway's message rate). Run after compiling (bench/README.md): `node dist/bench/ws/main.js`.
 * Env: BENCH_POSTGRES_URL (admin connection), BENCH_REDIS_URL (default redis://127.0.0.1:6379/8),
 * BENCH_CLIENTS (1,000), BENCH_DASHBOARDS (10), BENCH_METERS (5,000), BENCH_RATE (5,000/s), BENCH_TICK_MS (50),
 * BENCH_WARMUP_SECONDS (5), BENCH_SECONDS (30), WS_MAX_MESSAGES_PER_SECOND (passed on to the API, default 10).
 */
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/8';
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1_000);
const DASHBOARDS = Number(process.env.BENCH_DASHBOARDS ?? 10);
const METERS = Number(process.env.BENCH_METERS ?? 5_000);
const RATE = Number(process.env.BENCH_RATE ?? 5_000);
const TICK_MS = Number(process.env.BENCH_TICK_MS ?? 50);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const PASSWORD = 'bench password, not a secret';

/** bench/ws's own meter id prefix (see meterIdOf). */
const METER_PREFIX = 'B6';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function log(message: string): void {
  process.stdout.write(
    `[${new Date().toISOString()}] ${message} (load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')})\n`,
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** SIGTERM, then up to 10 s for the process to exit (the API closes its connections before the database goes). */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Lines a child prints on stdout, one at a time. */
function lines(child: ChildProcess): AsyncIterator<string> {
  return createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
}

async function waitForHealth(baseUrl: string, api: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 300; attempt++) {
    if (api.exitCode !== null) throw new Error(`the API exited with ${api.exitCode}`);
    try {
      if ((await fetch(`${baseUrl}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error('the API did not become healthy within 30 s');
}

/** Publishes `rate` readings/s for `seconds`, in batches every TICK_MS; returns how many it published. */
async function publish(
  cache: ReadingCache,
  rate: number,
  seconds: number,
  next: { meter: number },
): Promise<number> {
  const perTick = Math.round((rate * TICK_MS) / 1000);
  const started = Date.now();
  let published = 0;
  for (let tick = 0; Date.now() - started < seconds * 1000; tick++) {
    const now = Date.now();
    const batch: CachedReading[] = [];
    for (let i = 0; i < perTick; i++) {
      const n = next.meter++ % METERS;
      batch.push({
        meterId: meterIdOf(n, METER_PREFIX),
        meterGroup: 'bench',
        quantity: 'total_m3',
        unit: 'm3',
        value: 100 + tick * 0.001,
        ts: now,
      });
    }
    await cache.applyReadings(batch, now);
    published += batch.length;
    const due = started + (tick + 1) * TICK_MS;
    await sleep(Math.max(0, due - Date.now()));
  }
  return published;
}

async function scrape(baseUrl: string, names: string[]): Promise<Record<string, number>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const totals: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const name = names.find((n) => line.startsWith(`${n}{`) || line.startsWith(`${n} `));
    if (name) totals[name] = (totals[name] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return totals;
}

async function main(): Promise<void> {
  const databaseName = `hes_bench_ws_${Date.now()}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${databaseName}`);
  const databaseUrl = new URL(ADMIN_URL);
  databaseUrl.pathname = `/${databaseName}`;
  const pool = createPool(databaseUrl.toString(), { max: 2 });
  const cache = new ReadingCache({ url: REDIS_URL, windowMs: 60_000 });
  const children: ChildProcess[] = [];
  try {
    log(
      `database ${databaseName}; ${CLIENTS} clients (${DASHBOARDS} on the whole society), ${METERS} meters`,
    );
    await runMigrations(pool, { dialect: 'postgres' });
    const societyId = await seedMeters(pool, METERS, METER_PREFIX);
    const users = new UserRepository(pool);
    const user = await users.create({
      email: 'bench@example.org',
      displayName: 'bench',
      passwordHash: await hashPassword(PASSWORD),
    });
    await users.setMembership(user.id, societyId, 'viewer');

    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const api = spawn(process.execPath, [join(__dirname, '../../apps/api/src/main.js')], {
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl.toString(),
        REDIS_URL,
        API_PORT: String(port),
        API_MIGRATE_ON_START: 'false',
        LOG_LEVEL: 'warn',
        NODE_ENV: 'development',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(api);
    await waitForHealth(baseUrl, api);
    const login = await fetch(`${baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'bench@example.org', password: PASSWORD }),
    });
    const token = ((await login.json()) as { accessToken: string }).accessToken;

    const meterClients = CLIENTS - DASHBOARDS;
    const plans: { meterIds?: string[]; societyId?: string }[] = Array.from({ length: meterClients }, () => ({
      meterIds: [] as string[],
    }));
    // Every meter followed by at least one client and every client following at least one meter.
    for (let i = 0; i < Math.max(METERS, meterClients); i++)
      plans[i % meterClients].meterIds!.push(meterIdOf(i % METERS, METER_PREFIX));
    for (let i = 0; i < DASHBOARDS; i++) plans.push({ societyId });
    const clients = spawn(
      process.execPath,
      [
        join(__dirname, 'clients.js'),
        JSON.stringify({ url: `ws://127.0.0.1:${port}/api/v1/ws`, token, plans }),
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    children.push(clients);
    const clientLines = lines(clients);
    log(`clients: ${(await clientLines.next()).value}`);

    await cache.connect();
    const next = { meter: 0 };
    log(`warm-up: ${RATE} readings/s for ${WARMUP_SECONDS} s`);
    await publish(cache, RATE, WARMUP_SECONDS, next);
    await sleep(500);
    clients.stdin!.write('reset\n');
    const metricNames = [
      'hes_ws_messages_sent_total',
      'hes_ws_readings_coalesced_total',
      'hes_ws_items_dropped_total',
      'hes_ws_connections',
      'hes_ws_subscriptions',
    ];
    const before = await scrape(baseUrl, metricNames);
    const cpuBefore = {
      api: cpuSeconds(api.pid!),
      clients: cpuSeconds(clients.pid!),
      bench: process.cpuUsage(),
    };
    const load = loadavg();
    log(`measuring: ${RATE} readings/s for ${SECONDS} s`);
    const started = Date.now();
    const published = await publish(cache, RATE, SECONDS, next);
    const elapsedS = (Date.now() - started) / 1000;
    await sleep(1000);
    const cpu = {
      api: (cpuSeconds(api.pid!) - cpuBefore.api) / elapsedS,
      clients: (cpuSeconds(clients.pid!) - cpuBefore.clients) / elapsedS,
      publisher: (() => {
        const used = process.cpuUsage(cpuBefore.bench);
        return (used.user + used.system) / 1e6 / elapsedS;
      })(),
    };
    const after = await scrape(baseUrl, metricNames);
    clients.stdin!.write('report\n');
    const report = JSON.parse((await clientLines.next()).value as string) as {
      messages: number;
      readings: number;
      latencyMs: Record<string, number>;
      closes: Record<string, number>;
    };
    const delta = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
    log(
      `published ${published} readings in ${elapsedS.toFixed(1)} s (${(published / elapsedS).toFixed(0)}/s); ` +
        `clients received ${report.readings} readings in ${report.messages} update messages ` +
        `(${(report.messages / elapsedS).toFixed(0)} messages/s); latency publish -> receive ms ` +
        JSON.stringify(report.latencyMs),
    );
    log(
      `API: messages sent ${delta('hes_ws_messages_sent_total')}, readings coalesced ${delta('hes_ws_readings_coalesced_total')}, ` +
        `dropped ${delta('hes_ws_items_dropped_total')}, connections ${after.hes_ws_connections}, subscriptions ` +
        `${after.hes_ws_subscriptions}; connections closed during the run ${JSON.stringify(report.closes)}`,
    );
    log(
      `CPU (cores): API ${cpu.api.toFixed(2)}, clients ${cpu.clients.toFixed(2)}, publisher ${cpu.publisher.toFixed(2)}; ` +
        `load average at the start of the measurement ${load.map((l) => l.toFixed(2)).join(' ')}`,
    );
    const p99 = report.latencyMs.p99;
    log(`p99 ${p99} ms: ${p99 <= 250 ? 'meets' : 'misses'} the 250 ms target`);
  } finally {
    await Promise.all(children.map(stop));
    await cache.close();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys('hes:*B6*');
    for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
    redis.disconnect();
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`ws bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
