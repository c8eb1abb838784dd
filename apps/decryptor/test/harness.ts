import { randomBytes } from 'node:crypto';
import { AddressInfo, Server, Socket, connect, createServer } from 'node:net';
import { Consumer, Kafka, logLevel } from 'kafkajs';
import { Pool } from 'pg';
import pino from 'pino';
import { ReadingCache } from '@hes/cache';
import { HesConfig, loadConfig } from '@hes/config';
import { MeterKeyCipher } from '@hes/keys';
import {
  DeadLetterMessage,
  EventMessage,
  ReadingsMessage,
  TelegramEnvelope,
  TelegramProducer,
  decodeDeadLetter,
  decodeEvent,
  decodeReadings,
} from '@hes/messaging';
import { HesMetrics } from '@hes/metrics';
import { MeterKeyRepository, MeterRepository, createPool, runMigrations } from '@hes/storage';
import { TestDatabase, createTestDatabase, uniqueName, uniqueTopicName } from '@hes/testing';
import { Decryptor } from '../src/decryptor';
import { DecryptorSettings, loadDecryptorSettings } from '../src/decryptor-settings';

export const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Names and settings private to one test file: topics, consumer group, database, Redis prefix. */
export interface TestEnvironment {
  database: TestDatabase;
  env: Record<string, string>;
  config: HesConfig;
  settings: DecryptorSettings;
  masterKey: Buffer;
  redisPrefix: string;
  kafka: Kafka;
}

export async function createTestEnvironment(
  overrides: Record<string, string> = {},
): Promise<TestEnvironment> {
  const database = await createTestDatabase('hes_decryptor');
  await runMigrations(database.url, { dialect: 'postgres' });
  const masterKey = randomBytes(32);
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_CLIENT_ID: 'hes-decryptor-test',
    KAFKA_PARTITIONS: '3',
    KAFKA_TOPIC_RAW_TELEGRAMS: uniqueTopicName('raw'),
    KAFKA_TOPIC_READINGS: uniqueTopicName('readings'),
    KAFKA_TOPIC_EVENTS: uniqueTopicName('events'),
    KAFKA_TOPIC_DEAD_LETTERS: uniqueTopicName('dead'),
    KAFKA_TOPIC_COMMANDS: uniqueTopicName('commands'),
    DATABASE_URL: database.url,
    STORAGE_DIALECT: 'postgres',
    REDIS_URL: redisUrl,
    HES_MASTER_KEY: masterKey.toString('hex'),
    DECRYPTOR_POOL_SIZE: '2',
    DECRYPTOR_GROUP_ID: uniqueName('decryptor_group'),
    DECRYPTOR_SESSION_TIMEOUT_MS: '6000',
    DECRYPTOR_HEARTBEAT_INTERVAL_MS: '500',
    DECRYPTOR_MAX_WAIT_MS: '100',
    DECRYPTOR_RETRY_INITIAL_MS: '100',
    DECRYPTOR_RETRY_MAX_MS: '1000',
    DECRYPTOR_LAG_POLL_MS: '500',
    DECRYPTOR_FORMAT_REFRESH_MS: '500',
    ...overrides,
  };
  return {
    database,
    env,
    config: loadConfig(env),
    settings: loadDecryptorSettings(env),
    masterKey,
    redisPrefix: `${uniqueName('hes_decryptor')}:`,
    kafka: new Kafka({ clientId: 'hes-decryptor-test', brokers, logLevel: logLevel.NOTHING }),
  };
}

export interface RunningDecryptor {
  decryptor: Decryptor;
  metrics: HesMetrics;
  cache: ReadingCache;
  /** Consumer-group joins seen: one per rebalance this member took part in. */
  joins: () => number;
  stop(): Promise<void>;
}

export async function startDecryptor(
  environment: TestEnvironment,
  overrides: { databaseUrl?: string; groupId?: string; redisUrl?: string } = {},
): Promise<RunningDecryptor> {
  const metrics = new HesMetrics({ app: 'decryptor', defaultMetrics: false });
  const cache = new ReadingCache({
    url: overrides.redisUrl ?? redisUrl,
    keyPrefix: environment.redisPrefix,
    onMiss: (operation, count) => metrics.cacheMisses.inc({ operation }, count),
  });
  await cache.connect();
  const config: HesConfig = overrides.databaseUrl
    ? { ...environment.config, database: { ...environment.config.database, url: overrides.databaseUrl } }
    : environment.config;
  const settings = overrides.groupId
    ? { ...environment.settings, groupId: overrides.groupId }
    : environment.settings;
  const logger = pino({ level: process.env.HES_TEST_LOG_LEVEL ?? 'silent' });
  const decryptor = await Decryptor.start({ config, settings, logger, metrics, cache });
  return {
    decryptor,
    metrics,
    cache,
    joins: () => decryptor.groupMembership.joins,
    stop: () => decryptor.stop(),
  };
}

export interface TestMeter {
  meterId: string;
  key?: Buffer;
  group?: string;
}

/** Registers meters (and their encrypted keys) as an operator would. */
export async function registerMeters(environment: TestEnvironment, meters: TestMeter[]): Promise<void> {
  const pool = createPool(environment.database.url, { max: 1 });
  try {
    const registry = new MeterRepository(pool);
    const keys = new MeterKeyRepository(pool);
    const cipher = new MeterKeyCipher(environment.masterKey);
    for (const meter of meters) {
      await registry.register({
        meterId: meter.meterId,
        manufacturer: 'KAM',
        deviceType: 0x16,
        version: 0x1b,
      });
      if (meter.key) await keys.store(meter.meterId, cipher.encrypt(meter.meterId, meter.key));
    }
  } finally {
    await pool.end();
  }
}

/** A test environment with meters registered, and a small pool for the test's own queries on its database. */
export interface MeterTestBed {
  environment: TestEnvironment;
  db: Pool;
  /** Ends the pool and drops the database. */
  close(): Promise<void>;
}

export async function createMeterTestBed(
  meters: TestMeter[],
  overrides: Record<string, string> = {},
): Promise<MeterTestBed> {
  const environment = await createTestEnvironment(overrides);
  await registerMeters(environment, meters);
  const db = createPool(environment.database.url, { max: 2 });
  return {
    environment,
    db,
    close: async () => {
      await db.end();
      await environment.database.drop();
    },
  };
}

/** Telegrams stored: a telegram's readings share its meter and time. */
export async function countTelegramsStored(db: Pool): Promise<number> {
  const result = await db.query<{ n: number }>(
    'SELECT count(DISTINCT (meter_id, ts))::int AS n FROM readings',
  );
  return result.rows[0].n;
}

/** Produces envelopes to the raw topic exactly as the collector does. */
export async function produceEnvelopes(
  environment: TestEnvironment,
  envelopes: TelegramEnvelope[],
): Promise<void> {
  const producer = new TelegramProducer(environment.kafka, {
    topic: environment.config.kafka.topics.rawTelegrams.name,
  });
  await producer.connect();
  try {
    await producer.send(envelopes);
  } finally {
    await producer.disconnect();
  }
}

export function envelope(
  meterId: string,
  telegram: Buffer,
  receivedAt: number,
  extra: Partial<TelegramEnvelope> = {},
): TelegramEnvelope {
  return {
    sourceKind: 'gateway',
    sourceId: 'gw-1',
    receivedAt,
    telegram,
    meterId,
    manufacturer: 'KAM',
    meterGroup: 'tower-a',
    ...extra,
  };
}

/** Collects the decryptor's output topics from the beginning. */
export class TopicCollector {
  readonly readings: ReadingsMessage[] = [];
  readonly events: EventMessage[] = [];
  readonly deadLetters: DeadLetterMessage[] = [];
  private readonly consumer: Consumer;

  constructor(private readonly environment: TestEnvironment) {
    this.consumer = environment.kafka.consumer({
      groupId: uniqueName('collector_group'),
      sessionTimeout: 6000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 100,
    });
  }

  async start(): Promise<void> {
    const topics = this.environment.config.kafka.topics;
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: [topics.readings.name, topics.events.name, topics.deadLetters.name],
      fromBeginning: true,
    });
    await this.consumer.run({
      eachMessage: async ({ topic, message }) => {
        if (!message.value) return;
        if (topic === topics.readings.name) this.readings.push(decodeReadings(message.value));
        else if (topic === topics.events.name) this.events.push(decodeEvent(message.value));
        else this.deadLetters.push(decodeDeadLetter(message.value));
      },
    });
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}

export async function waitUntil(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 45_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A TCP forwarder to the local PostgreSQL that a test can take down and bring back on the same port: the
 * decryptor sees exactly what a database outage looks like (refused connections, dropped sessions) while the
 * shared server keeps running for everyone else.
 */
export class DatabaseOutageProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target = { host: '127.0.0.1', port: 5432 }) {}

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Refuses new connections and cuts the open ones. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  urlFor(databaseUrl: string): string {
    const url = new URL(databaseUrl);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }
}
