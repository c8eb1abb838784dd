/** startApi from environment variables: migrates, listens, serves health and refuses production without a secret. */
import { createTestDatabase, uniqueName, type TestDatabase } from '@hes/testing';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import Redis from 'ioredis';
import request from 'supertest';
import { startApi } from './runtime';

jest.setTimeout(60_000);

describe('startApi', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('hes_api_runtime');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('migrates the database at start-up and serves /health with the database, Redis and Kafka up', async () => {
    const api = await startApi({
      env: { DATABASE_URL: db.url, LOG_LEVEL: 'silent', API_JWT_SECRET: 'k'.repeat(40) },
      port: 0,
      rateLimitKeyPrefix: `${uniqueName('hes_api_runtime')}:`,
    });
    try {
      const health = await request(`http://127.0.0.1:${api.port}`).get('/health').expect(200);
      expect(health.body.status).toBe('ok');
      expect(health.body.checks.kafka).toEqual({ status: 'up' });
      await request(`http://127.0.0.1:${api.port}`).get('/api/v1/societies').expect(401);
    } finally {
      await api.stop();
    }
  });

  it('keeps answering, limited per instance, when Redis goes away, and still stops cleanly', async () => {
    // A TCP relay in front of the local Redis stands for the network path that breaks.
    const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    const sockets = new Set<Socket>();
    const relay = createServer((client) => {
      const upstream = connect(Number(redisUrl.port || 6379), redisUrl.hostname);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => sockets.delete(socket));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const api = await startApi({
      env: {
        DATABASE_URL: db.url,
        LOG_LEVEL: 'silent',
        API_JWT_SECRET: 'k'.repeat(40),
        REDIS_URL: `redis://127.0.0.1:${(relay.address() as AddressInfo).port}`,
        API_LOGIN_RATE_LIMIT_PER_MINUTE: '2',
      },
      port: 0,
      rateLimitKeyPrefix: `${uniqueName('hes_api_runtime')}:`,
    });
    try {
      const closed = new Promise<void>((resolve) => relay.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
      const target = request(`http://127.0.0.1:${api.port}`);
      const attempt = async () =>
        (await target.post('/api/v1/auth/login').send({ email: 'a@example.org', password: 'x'.repeat(12) }))
          .status;
      expect([await attempt(), await attempt(), await attempt()]).toEqual([401, 401, 429]);
      expect((await target.get('/health').expect(503)).body.checks.redis.status).toBe('down');
    } finally {
      await api.stop();
    }
  });

  it('starts while Redis is down, reports it on /health, and connects and subscribes the live feed once it is up', async () => {
    // A relay that refuses connections until Redis "comes back", then forwards them to the local Redis.
    const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    let redisUp = false;
    const upstreamPorts = new Set<number>();
    const relay = createServer((client) => {
      client.on('error', () => undefined);
      if (!redisUp) {
        client.destroy();
        return;
      }
      const upstream = connect(Number(redisUrl.port || 6379), redisUrl.hostname, () =>
        upstreamPorts.add(upstream.localPort!),
      );
      upstream.on('error', () => undefined);
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const admin = new Redis(redisUrl.toString());
    const startedAt = Date.now();
    const api = await startApi({
      env: {
        DATABASE_URL: db.url,
        LOG_LEVEL: 'silent',
        API_JWT_SECRET: 'k'.repeat(40),
        REDIS_URL: `redis://127.0.0.1:${(relay.address() as AddressInfo).port}`,
      },
      port: 0,
      rateLimitKeyPrefix: `${uniqueName('hes_api_runtime')}:`,
    });
    try {
      expect(Date.now() - startedAt).toBeLessThan(15_000);
      const target = request(`http://127.0.0.1:${api.port}`);
      const down = await target.get('/health').expect(503);
      expect(down.body.checks.redis.status).toBe('down');
      expect(down.body.checks.database).toEqual({ status: 'up' });
      await target.get('/api/v1/societies').expect(401);

      redisUp = true;
      const deadline = Date.now() + 15_000;
      let liveSubscribed = false;
      let healthy = false;
      while (!(liveSubscribed && healthy) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        healthy = (await target.get('/health')).status === 200;
        // The live subscriber is the API's connection (through the relay) named hes-live-* with two patterns.
        const clients = ((await admin.call('CLIENT', 'LIST')) as string).split('\n');
        liveSubscribed = clients.some(
          (line) =>
            / name=hes-live-/.test(line) &&
            / psub=2 /.test(line) &&
            upstreamPorts.has(Number(/ addr=[^ ]*:(\d+) /.exec(line)?.[1])),
        );
      }
      expect({ healthy, liveSubscribed }).toEqual({ healthy: true, liveSubscribed: true });
    } finally {
      await api.stop();
      admin.disconnect();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    }
  });

  it('starts while Kafka is unreachable and reports it down on /health', async () => {
    const api = await startApi({
      env: {
        DATABASE_URL: db.url,
        LOG_LEVEL: 'silent',
        API_JWT_SECRET: 'k'.repeat(40),
        KAFKA_BROKERS: '127.0.0.1:1',
      },
      port: 0,
      rateLimitKeyPrefix: `${uniqueName('hes_api_runtime')}:`,
    });
    try {
      const health = await request(`http://127.0.0.1:${api.port}`).get('/health').expect(503);
      expect(health.body.checks.kafka.status).toBe('down');
      expect(health.body.checks.database).toEqual({ status: 'up' });
    } finally {
      await api.stop();
    }
  });

  it('refuses to start in production without API_JWT_SECRET', async () => {
    await expect(
      startApi({
        env: {
          NODE_ENV: 'production',
          HES_MASTER_KEY: 'a'.repeat(64),
          DATABASE_URL: db.url,
          LOG_LEVEL: 'silent',
        },
        port: 0,
      }),
    ).rejects.toThrow('API_JWT_SECRET is required when NODE_ENV=production');
  });
});
