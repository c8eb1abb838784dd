import { loadavg } from 'node:os';
import Redis from 'ioredis';
import { ReadingCache, type CachedReading } from '@hes/cache';
import { clockTicksPerSecond } from './bench-env';
import { pidsByComm, readProcUsage } from './proc-sampler';

/**
 * bench/pipeline cache-cpu: the decryptor's Redis write alone. `ReadingCache.applyReadings` is called with
 * batches shaped like the decryptor's units of work (3,000 telegrams of 4 readings each by default, meters
 * spread over 20,000 and 96 groups), and the CPU of this process (the client side: packing and sending) and
 * of redis-server (the script) is divided by the telegrams written. redis-server is shared: run it when no
 * one else uses Redis, or repeat and take the lowest.
 *   node <dist>/bench/pipeline/cache-cpu.js [batches] [telegrams per batch]
 * Env: REDIS_URL (default redis://127.0.0.1:6379); BENCH_CACHE_MAX_READINGS_PER_CALL (the cache's
 * maxReadingsPerCall, default the cache's own) to compare batch cuts. Keys go under a per-run prefix, removed
 * at the end.
 */
const REGISTERS = [
  { quantity: 'total_m3', unit: 'm3', storage: 0 },
  { quantity: 'target_m3', unit: 'm3', storage: 1 },
  { quantity: 'flow_temperature_c', unit: 'C', storage: 0 },
  { quantity: 'external_temperature_c', unit: 'C', storage: 0 },
];
const METERS = 20_000;
const GROUPS = 96;
const WARMUP_BATCHES = 5;

function batchOf(first: number, telegrams: number, startMs: number): CachedReading[] {
  const readings: CachedReading[] = [];
  for (let t = first; t < first + telegrams; t++) {
    // A stride coprime to the fleet size: consecutive telegrams come from different meters, as in a fetch.
    const meter = (t * 7919) % METERS;
    const meterId = (0x10000000 + meter).toString(16).toUpperCase();
    for (const [r, register] of REGISTERS.entries()) {
      readings.push({
        meterId,
        meterGroup: `group-${meter % GROUPS}`,
        ...register,
        tariff: 0,
        value: 100 + t / 1000 + r,
        ts: startMs + t * 10,
      });
    }
  }
  return readings;
}

const redisServerTicks = () =>
  pidsByComm('redis-server').reduce((sum, pid) => sum + (readProcUsage(pid)?.cpuTicks ?? 0), 0);

async function main(): Promise<void> {
  const batches = Number(process.argv[2] ?? 30);
  const perBatch = Number(process.argv[3] ?? 3000);
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `hes-bench-cache-${process.pid}:`;
  const ticksPerSecond = clockTicksPerSecond();
  const cap = process.env.BENCH_CACHE_MAX_READINGS_PER_CALL;
  const maxReadingsPerCall = cap === undefined ? undefined : Number(cap);
  const cache = new ReadingCache({ url, keyPrefix: prefix, commandTimeoutMs: 30_000, maxReadingsPerCall });
  if (!(await cache.connect())) throw new Error(`Redis is not reachable at ${url}`);
  const startMs = Date.now() - 3_600_000;
  try {
    for (let b = 0; b < WARMUP_BATCHES; b++)
      await cache.applyReadings(batchOf(b * perBatch, perBatch, startMs));
    const timed = Array.from({ length: batches }, (_, b) =>
      batchOf((WARMUP_BATCHES + b) * perBatch, perBatch, startMs),
    );
    const loadBefore = loadavg()[0];
    const serverBefore = redisServerTicks();
    const clientBefore = process.cpuUsage();
    for (const readings of timed) await cache.applyReadings(readings);
    const client = process.cpuUsage(clientBefore);
    const serverTicks = redisServerTicks() - serverBefore;
    const telegrams = batches * perBatch;
    const perTelegram = (micros: number) => Math.round((micros / telegrams) * 10) / 10;
    process.stdout.write(
      `${JSON.stringify({
        batches,
        telegramsPerBatch: perBatch,
        readingsPerTelegram: REGISTERS.length,
        maxReadingsPerCall: maxReadingsPerCall ?? 'default',
        loadBefore: Math.round(loadBefore * 100) / 100,
        clientCpuMicrosPerTelegram: perTelegram(client.user + client.system),
        redisServerCpuMicrosPerTelegram: perTelegram((serverTicks * 1e6) / ticksPerSecond),
      })}\n`,
    );
  } finally {
    await cache.close();
    const admin = new Redis(url);
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
      cursor = next;
      if (keys.length > 0) await admin.unlink(...keys);
    } while (cursor !== '0');
    admin.disconnect();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench-cache-cpu failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
