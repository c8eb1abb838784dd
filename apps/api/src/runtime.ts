import type { INestApplication } from '@nestjs/common';
import { AccessTokens, OidcVerifier } from '@hes/auth';
import { ReadingCache } from '@hes/cache';
import { loadConfig, type HesConfig } from '@hes/config';
import { MeterKeyCipher } from '@hes/keys';
import { HesMetrics } from '@hes/metrics';
import { createPool, runMigrations } from '@hes/storage';
import type { Pool } from 'pg';
import { Counter } from 'prom-client';
import Redis from 'ioredis';
import { Kafka, logLevel as KafkaLogLevel } from 'kafkajs';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import { createApiApp } from './app';
import { KafkaCommandPublisher } from './commands/command-publisher';
import { CommandsRepository } from './commands/commands.repository';
import { UnconfirmedCommandSweeper, commandConfirmTimeoutMs } from './commands/unconfirmed-command-sweeper';
import { anyInterfaceHost } from './http/listen-host';

export interface ApiRuntimeOptions {
  /** Environment to configure from; process.env by default. */
  env?: NodeJS.ProcessEnv;
  /** Overrides API_PORT; 0 picks a free port. */
  port?: number;
  /** Prefix of the rate limiter's Redis keys; `hes:ratelimit:` by default. */
  rateLimitKeyPrefix?: string;
  /**
   * Set in a node:cluster worker (API_WORKERS > 1): its number, 1..API_WORKERS, which labels its requests on
   * /metrics; /metrics then answers for all workers of the host, gathered by the primary.
   */
  clusterWorker?: number;
}

export interface RunningApi {
  readonly app: INestApplication;
  readonly config: HesConfig;
  readonly port: number;
  stop(): Promise<void>;
}

/** Set API_MIGRATE_ON_START=false when migrations run as a separate deployment step (hes migrate). */
export function migrateOnStart(env: NodeJS.ProcessEnv): boolean {
  const value = env.API_MIGRATE_ON_START?.trim().toLowerCase();
  if (value === undefined || value === '' || value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new Error(`API_MIGRATE_ON_START: '${env.API_MIGRATE_ON_START}' is not true or false`);
}

/** Brings the schema up to date (under the migrations' advisory lock) and logs what was applied. */
export async function migrateApiDatabase(pool: Pool, config: HesConfig, logger: Logger): Promise<void> {
  const migrated = await runMigrations(pool, {
    dialect: config.database.dialect,
    rawRetentionDays: config.database.rawRetentionDays,
  });
  logger.info({ dialect: migrated.dialect, applied: migrated.applied }, 'database schema up to date');
}

/**
 * Builds and starts the API from configuration: database pool (migrated at start-up unless disabled), Redis (rate
 * limits), token verifiers, then the HTTP app. Without API_JWT_SECRET a random secret is used outside production,
 * so tokens do not survive a restart; production refuses to start without one.
 */
export async function startApi(options: ApiRuntimeOptions = {}): Promise<RunningApi> {
  const env = options.env ?? process.env;
  const config = loadConfig(env);
  const { clusterWorker } = options;
  const logger = pino({
    level: config.logLevel,
    base: clusterWorker === undefined ? { app: 'api' } : { app: 'api', worker: clusterWorker },
  });
  const { jwt, oidc, rateLimit } = config.api;
  if (!jwt.secret && config.nodeEnv === 'production') {
    throw new Error('API_JWT_SECRET is required when NODE_ENV=production');
  }
  if (!jwt.secret) logger.warn('API_JWT_SECRET not set: using a random secret, sessions end at restart');
  const secret = jwt.secret ? jwt.secret.bytes() : randomBytes(32);
  const accessTokens = new AccessTokens({
    secret,
    issuer: jwt.issuer,
    ttlSeconds: jwt.accessTokenTtlSeconds,
  });
  const migrate = migrateOnStart(env);
  const confirmTimeoutMs = commandConfirmTimeoutMs(env);
  const masterKey = config.masterKey?.bytes();
  const meterKeyCipher = masterKey && new MeterKeyCipher(masterKey);
  masterKey?.fill(0);
  if (!meterKeyCipher) logger.warn('HES_MASTER_KEY not set: meter key endpoints answer 503');

  const pool = createPool(config.database.url, { applicationName: 'hes-api' });
  const redis = new Redis(config.redis.url, { lazyConnect: true, maxRetriesPerRequest: 2 });
  // ioredis reports every failed reconnect; one line when the connection is lost and one when it is back.
  let redisLost = false;
  redis.on('error', (error) => {
    if (redisLost) return;
    redisLost = true;
    logger.warn({ err: error }, 'redis connection lost: rate limits per instance until it is back');
  });
  redis.on('ready', () => {
    if (!redisLost) return;
    redisLost = false;
    logger.info('redis connection restored');
  });
  // Fail-fast client of its own: while Redis is down, latest values come from the database instead of waiting.
  const readingCache = new ReadingCache({ url: config.redis.url });
  const { commands: commandsTopic } = config.kafka.topics;
  const commandPublisher = new KafkaCommandPublisher(
    new Kafka({
      clientId: `${config.kafka.clientId}-api`,
      brokers: [...config.kafka.brokers],
      logLevel: KafkaLogLevel.NOTHING,
      // Bounded, so an unreachable cluster surfaces as an error within seconds instead of a long hang.
      connectionTimeout: 3000,
      retry: { initialRetryTime: 200, maxRetryTime: 2000, retries: 3 },
    }),
    {
      topic: commandsTopic.name,
      numPartitions: commandsTopic.partitions,
      replicationFactor: commandsTopic.replicationFactor,
    },
    logger,
  );
  let app: INestApplication;
  try {
    if (migrate) await migrateApiDatabase(pool, config, logger);
    // Redis down at start is an outage like a later one: the API starts, rate limits per instance and /health says
    // Redis is down; the client keeps reconnecting in the background (its 'error' handler logs the outage once).
    await redis.connect().catch(() => undefined);
    // The commands topic is created at start-up; the API also starts while Kafka is down (commands answer 503).
    commandPublisher.start();
    await Promise.race([commandPublisher.ready, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    if (!(await readingCache.connect()))
      logger.warn('reading cache unavailable: latest values from the database');
    const metrics = new HesMetrics({ app: 'api' });
    if (clusterWorker !== undefined) metrics.aggregateOverCluster();
    ({ app } = await createApiApp({
      pool,
      redis,
      readingCache,
      metrics,
      logLevel: config.logLevel,
      meterKeyCipher,
      accessTokens,
      refreshTokenTtlSeconds: jwt.refreshTokenTtlSeconds,
      invitationTtlSeconds: config.api.invitationTtlSeconds,
      oidc: oidc ? new OidcVerifier(oidc) : undefined,
      rateLimits: rateLimit,
      rateLimitKeyPrefix: options.rateLimitKeyPrefix ?? 'hes:ratelimit:',
      trustProxy: config.api.trustProxy,
      websocket: config.api.websocket,
      healthChecks: {
        database: async () => {
          await pool.query('SELECT 1');
        },
        redis: async () => {
          await redis.ping();
        },
        kafka: () => commandPublisher.probe(),
      },
      commands: commandPublisher,
    }));
    // With several workers on one port, how the kernel spreads connections over them; one process needs no such
    // counter (the request duration histogram counts its requests).
    if (clusterWorker !== undefined) {
      const requestsServed = new Counter({
        name: 'hes_api_worker_requests_total',
        help: 'HTTP requests received, by API worker process (1..API_WORKERS): how the host spreads its connections.',
        labelNames: ['worker'],
        registers: [metrics.registry],
      }).labels({ worker: String(clusterWorker) });
      (app.getHttpServer() as Server).on('request', () => requestsServed.inc());
    }
    await app.listen(options.port ?? config.ports.api, anyInterfaceHost());
  } catch (error) {
    redis.disconnect();
    await commandPublisher.stop();
    await readingCache.close();
    await pool.end();
    throw error;
  }
  const port = ((app.getHttpServer() as Server).address() as AddressInfo).port;
  logger.info({ port, oidc: oidc !== undefined }, 'api listening');
  const commandSweeper = new UnconfirmedCommandSweeper(new CommandsRepository(pool), {
    timeoutMs: confirmTimeoutMs,
    logger,
  });
  commandSweeper.start();

  let stopped: Promise<void> | undefined;
  const stop = async () => {
    await app.close();
    await commandSweeper.stop();
    await commandPublisher.stop();
    await redis.quit();
    await readingCache.close();
    await pool.end();
    logger.info('api stopped');
  };
  return { app, config, port, stop: () => (stopped ??= stop()) };
}
