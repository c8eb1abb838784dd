/**
 * The rate limiter when Redis is down: requests are still limited (by an in-process limiter with the same
 * limits) instead of failing with 500, every fallback is counted, the outage is logged once, and recovery is
 * logged when Redis answers again. Real HTTP through Nest's throttler guard; Redis dead, erroring and live.
 */
import { Controller, Get, type INestApplication } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { ThrottlerModule } from '@nestjs/throttler';
import { uniqueName } from '@hes/testing';
import Redis from 'ioredis';
import { createServer, type AddressInfo, type Server } from 'node:net';
import request from 'supertest';
import { Public } from './decorators';
import { PrincipalThrottlerGuard, RedisThrottlerStorage, rateLimitThrottlers } from './rate-limit';

jest.setTimeout(30_000);

@Controller()
class PingController {
  @Public()
  @Get('ping')
  ping() {
    return { ok: true };
  }
}

interface Recorded {
  fallbacks: number;
  warnings: string[];
  notices: string[];
}

async function appWith(
  redis: Redis,
  limit: number,
): Promise<{ app: INestApplication; recorded: Recorded; storage: RedisThrottlerStorage }> {
  const recorded: Recorded = { fallbacks: 0, warnings: [], notices: [] };
  const storage = new RedisThrottlerStorage(redis, `${uniqueName('hes_rate_limit_test')}:`, {
    fallback: () => (recorded.fallbacks += 1),
    logger: {
      warn: (message: unknown) => void recorded.warnings.push(String(message)),
      log: (message: unknown) => void recorded.notices.push(String(message)),
    },
  });
  const module = await Test.createTestingModule({
    imports: [
      ThrottlerModule.forRoot({
        throttlers: rateLimitThrottlers({ requestsPerMinute: limit, loginAttemptsPerMinute: limit }),
        storage,
      }),
    ],
    controllers: [PingController],
    providers: [{ provide: APP_GUARD, useClass: PrincipalThrottlerGuard }],
  }).compile();
  const app = module.createNestApplication({ logger: false });
  await app.init();
  return { app, recorded, storage };
}

async function statuses(app: INestApplication, count: number): Promise<number[]> {
  const result: number[] = [];
  for (let i = 0; i < count; i++) result.push((await request(app.getHttpServer()).get('/ping')).status);
  return result;
}

describe('rate limiter without Redis', () => {
  it('limits per instance when Redis is not reachable (dead port), logging the outage once', async () => {
    const dead = new Redis('redis://127.0.0.1:1', {
      maxRetriesPerRequest: 1,
      connectTimeout: 200,
      retryStrategy: () => 60_000,
    });
    dead.on('error', () => undefined);
    // The first connection attempt has failed and the client waits to retry: Redis is down as far as it knows.
    await new Promise((resolve) => dead.once('reconnecting', resolve));
    const { app, recorded } = await appWith(dead, 3);
    try {
      expect(await statuses(app, 5)).toEqual([200, 200, 200, 429, 429]);
      expect(recorded.fallbacks).toBe(5);
      expect(recorded.warnings).toHaveLength(1);
      expect(recorded.warnings[0]).toMatch(/Redis unavailable .*rate limits enforced per instance/);
    } finally {
      await app.close();
      dead.disconnect();
    }
  });

  it('falls back when a connected Redis answers with errors', async () => {
    // Speaks just enough RESP for ioredis to connect (HELLO refused, as by a RESP2 server), then errs on every command.
    const failing: Server = createServer((socket) =>
      socket.on('data', (chunk: Buffer) => {
        for (const [, name] of chunk.toString('latin1').matchAll(/\*\d+\r\n\$\d+\r\n([^\r]+)/g)) {
          const command = name.toLowerCase();
          if (command === 'hello') socket.write("-ERR unknown command 'hello'\r\n");
          else if (command === 'client') socket.write('+OK\r\n');
          else socket.write('-ERR server is shutting down\r\n');
        }
      }),
    );
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
    const port = (failing.address() as AddressInfo).port;
    const redis = new Redis({ host: '127.0.0.1', port, enableReadyCheck: false, maxRetriesPerRequest: 0 });
    redis.on('error', () => undefined);
    await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
    const { app, recorded } = await appWith(redis, 2);
    try {
      expect(await statuses(app, 3)).toEqual([200, 200, 429]);
      expect(recorded.fallbacks).toBe(3);
      expect(recorded.warnings).toEqual([expect.stringContaining('server is shutting down')]);
    } finally {
      await app.close();
      redis.disconnect();
      await new Promise((resolve) => failing.close(resolve));
    }
  });

  it('goes back to the shared Redis limit once Redis answers, and says so', async () => {
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true });
    const { app, recorded } = await appWith(redis, 100);
    try {
      expect(await statuses(app, 2)).toEqual([200, 200]);
      expect(recorded.fallbacks).toBe(2);
      await redis.connect();
      expect(await statuses(app, 2)).toEqual([200, 200]);
      expect(recorded.fallbacks).toBe(2);
      expect(recorded.notices).toEqual([expect.stringMatching(/Redis answers again/)]);
      expect(recorded.warnings).toHaveLength(1);
    } finally {
      await app.close();
      redis.disconnect();
    }
  });
});

describe('rate limiter with Redis', () => {
  it('counts in Redis by the script hash, loading the script again when Redis has forgotten it', async () => {
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    const { app, recorded, storage } = await appWith(redis, 3);
    try {
      // Redis knows no scripts (as after a restart): the first check must load it, not fall back.
      await redis.script('FLUSH');
      expect(await statuses(app, 2)).toEqual([200, 200]);
      // The second hit is still unsent; the batch must load the script again too.
      await redis.script('FLUSH');
      await storage.sync();
      expect(await statuses(app, 2)).toEqual([200, 429]);
      await storage.sync();
      const counters = await redis.keys('*hes_rate_limit_test*:requests:*:hits');
      const counts = await Promise.all(counters.map((counter) => redis.get(counter)));
      expect(counts).toContain('4');
      expect(recorded.fallbacks).toBe(0);
      expect(recorded.warnings).toEqual([]);
    } finally {
      await app.close();
      redis.disconnect();
    }
  });
});

describe('rate limiter across instances (two storages on one Redis)', () => {
  const WINDOW_MS = 60_000;
  let redis: Redis;
  let prefix: string;
  let storages: RedisThrottlerStorage[];

  beforeEach(async () => {
    redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    await new Promise((resolve) => redis.once('ready', resolve));
    prefix = `${uniqueName('hes_rate_limit_test')}:`;
    // Never synced by the timer within a test: each test says when an instance syncs.
    storages = [0, 1].map(() => new RedisThrottlerStorage(redis, prefix, { syncIntervalMs: 60_000 }));
  });

  afterEach(async () => {
    await Promise.all(storages.map((storage) => storage.onApplicationShutdown()));
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  const hit = (storage: RedisThrottlerStorage, limit: number) =>
    storage.increment('user:1', WINDOW_MS, limit, WINDOW_MS, 'requests');

  it("counts the other instance's hits once both have synced", async () => {
    const [a, b] = storages;
    for (let i = 1; i <= 3; i++) expect(await hit(a, 5)).toMatchObject({ totalHits: i, isBlocked: false });
    // b's first check asks Redis, which has a's first hit only (the other two are unsent).
    expect(await hit(b, 5)).toMatchObject({ totalHits: 2, isBlocked: false });
    await a.sync();
    // Until b syncs, it decides on what it last read.
    expect(await hit(b, 5)).toMatchObject({ totalHits: 3, isBlocked: false });
    await b.sync();
    expect(await redis.get(`${prefix}requests:user:1:hits`)).toBe('5');
    expect(await hit(b, 5)).toMatchObject({ totalHits: 6, isBlocked: true });
  });

  it('blocks on the other instance once the blocking instance has synced and the other one has too', async () => {
    const [a, b] = storages;
    expect(await hit(b, 2)).toMatchObject({ isBlocked: false });
    for (let i = 0; i < 2; i++) await hit(a, 2);
    expect(await hit(a, 2)).toMatchObject({ totalHits: 4, isBlocked: true });
    expect((await hit(b, 2)).isBlocked).toBe(false);
    await a.sync();
    await b.sync();
    expect(await redis.pttl(`${prefix}requests:user:1:block`)).toBeGreaterThan(0);
    expect(await hit(b, 2)).toMatchObject({ isBlocked: true });
  });

  it('asks Redis for a key it has not seen, so a new instance starts from the shared count', async () => {
    const [a, b] = storages;
    for (let i = 0; i < 4; i++) await hit(a, 4);
    await a.sync();
    expect(await hit(b, 4)).toMatchObject({ totalHits: 5, isBlocked: true });
  });
});
