/** Boots the real API against a throw-away PostgreSQL database and the local Redis, for integration tests. */
import type { INestApplication } from '@nestjs/common';
import {
  AccessTokens,
  UserRepository,
  hashPassword,
  type OidcVerifier,
  type RateLimits,
  type Role,
} from '@hes/auth';
import { ReadingCache } from '@hes/cache';
import { MeterKeyCipher } from '@hes/keys';
import { loadConfig, type TrustProxy, type WebSocketConfig } from '@hes/config';
import { HesMetrics } from '@hes/metrics';
import { createPool, runMigrations } from '@hes/storage';
import { createTestDatabase, uniqueName, type TestDatabase } from '@hes/testing';
import type { FastifyInstance } from 'fastify';
import Redis from 'ioredis';
import { Kafka, logLevel as KafkaLogLevel } from 'kafkajs';
import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import request from 'supertest';
import type { OpenAPIObject } from '@nestjs/swagger';
import pino from 'pino';
import { createApiApp } from './app';
import { KafkaCommandPublisher, type MeterCommandSink } from './commands/command-publisher';

export const TEST_PASSWORD = 'correct horse battery staple';
export const JWT_ISSUER = 'hes-test';

export interface ApiHarness {
  app: INestApplication;
  openApi: OpenAPIObject;
  pool: Pool;
  redis: Redis;
  /** The API's reading cache, under the harness's own key prefix (tests apply readings to it like the decryptor). */
  readingCache: ReadingCache;
  http: () => ReturnType<typeof request>;
  /** Every route the app registered (HEAD twins of GET routes left out), as Fastify announced them. */
  routes: HarnessRoute[];
  /** The cipher the API encrypts meter keys with (a random master key per harness). */
  meterKeyCipher: MeterKeyCipher;
  close(): Promise<void>;
}

export interface HarnessRoute {
  /** Lower case, as supertest names its methods. */
  method: string;
  /** The route's pattern, parameters as `:name`. */
  path: string;
}

export interface HarnessOptions {
  rateLimits?: RateLimits;
  oidc?: OidcVerifier;
  /** Reuse a database another harness created (several apps over one schema). */
  database?: TestDatabase;
  /** Prefix of the cache's keys and live channels; a fresh one by default (two apps share one to fan out). */
  cacheKeyPrefix?: string;
  /** Live gateway limits over the defaults of an empty environment. */
  websocket?: Partial<WebSocketConfig>;
  /** Where meter commands go; by default the local Kafka's `hes.commands`, connected on the first command only. */
  commands?: MeterCommandSink;
  /** The API's trust-proxy setting (off by default, as in production). */
  trustProxy?: TrustProxy;
}

export async function startHarness(options: HarnessOptions = {}): Promise<ApiHarness & { db: TestDatabase }> {
  const db = options.database ?? (await createTestDatabase('hes_api'));
  if (!options.database) await runMigrations(db.url);
  const pool = createPool(db.url, { max: 5 });
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const prefix = `${uniqueName('hes_api_test')}:`;
  const readingCache = new ReadingCache({
    url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    keyPrefix: options.cacheKeyPrefix ?? prefix,
  });
  await readingCache.connect();
  const meterKeyCipher = new MeterKeyCipher(randomBytes(32));
  const localCommands = new KafkaCommandPublisher(
    new Kafka({
      clientId: 'hes-api-test',
      brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
      logLevel: KafkaLogLevel.NOTHING,
    }),
    { topic: 'hes.commands', numPartitions: 1, replicationFactor: 1 },
    pino({ level: 'silent' }),
  );
  const { app, openApi } = await createApiApp({
    pool,
    redis,
    readingCache,
    metrics: new HesMetrics({ app: 'api', defaultMetrics: false }),
    logLevel: 'silent',
    meterKeyCipher,
    accessTokens: new AccessTokens({ secret: randomBytes(32), issuer: JWT_ISSUER, ttlSeconds: 900 }),
    refreshTokenTtlSeconds: 3600,
    invitationTtlSeconds: loadConfig({}).api.invitationTtlSeconds,
    oidc: options.oidc,
    rateLimits: options.rateLimits ?? { requestsPerMinute: 100_000, loginAttemptsPerMinute: 100_000 },
    rateLimitKeyPrefix: prefix,
    trustProxy: options.trustProxy,
    websocket: { ...loadConfig({}).api.websocket, ...options.websocket },
    healthChecks: {
      database: async () => {
        await pool.query('SELECT 1');
      },
      redis: async () => {
        await redis.ping();
      },
    },
    commands: options.commands ?? localCommands,
  });
  const fastify = app.getHttpAdapter().getInstance() as FastifyInstance;
  const routes: HarnessRoute[] = [];
  fastify.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') routes.push({ method: method.toLowerCase(), path: route.url });
    }
  });
  await app.init();
  // Fastify finishes its routes (their hooks, the content-type parsers) when ready; listen() would do it.
  await fastify.ready();
  const server = app.getHttpServer();
  return {
    app,
    openApi,
    pool,
    redis,
    readingCache,
    db,
    http: () => request(server),
    routes,
    meterKeyCipher,
    close: async () => {
      await app.close();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      await readingCache.close();
      await localCommands.stop();
      await pool.end();
      if (!options.database) await db.drop();
    },
  };
}

/** A user with memberships (societyId null for platform admins), straight into the database. */
export async function createUser(
  pool: Pool,
  email: string,
  memberships: { societyId: string | null; role: Role }[],
  password = TEST_PASSWORD,
): Promise<string> {
  const users = new UserRepository(pool);
  const user = await users.create({
    email,
    displayName: email.split('@')[0],
    passwordHash: await hashPassword(password),
  });
  for (const membership of memberships)
    await users.setMembership(user.id, membership.societyId, membership.role);
  return user.id;
}

export async function login(harness: ApiHarness, email: string, password = TEST_PASSWORD) {
  const response = await harness.http().post('/api/v1/auth/login').send({ email, password }).expect(200);
  return response.body as { accessToken: string; refreshToken: string };
}

/** A meter row in the registry (the meters table of the storage migrations). */
export async function createMeter(
  pool: Pool,
  meterId: string,
  societyId: string | null = null,
): Promise<void> {
  await pool.query(
    `INSERT INTO meters (meter_id, manufacturer, device_type, version, society_id) VALUES ($1, 'KAM', 7, 27, $2)`,
    [meterId, societyId],
  );
}
