import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { Admin, Kafka, logLevel } from 'kafkajs';
import { Pool } from 'pg';
import { HesTopics, loadConfig } from '@hes/config';
import { MeterKeyCipher, generateApiKey, hashApiKey } from '@hes/keys';
import { DeadLetterMessage, computeConsumerLag, decodeDeadLetter } from '@hes/messaging';
import { GatewayRepository, MeterKeyRepository, MeterRepository, runMigrations } from '@hes/storage';
import { KafkaMockProcess, findFreePortRange, startKafkaMock } from '@hes/testing';
import { registerSimulateCommand } from '../../../cli/src/commands/simulate';
import type { SimulationSummary } from '../../../cli/src/simulator/run';
import {
  Deployables,
  NodeProcess,
  PrivatePostgres,
  PrivateRedis,
  buildDeployables,
  waitFor,
} from './services';

/**
 * The whole pipeline on private instances: collector and decryptor as real node processes (built once),
 * a Kafka mock broker, a PostgreSQL cluster and a redis-server that only this test file uses, and the
 * `hes simulate` command (in the test process) as the load: registered meters with encrypted keys, sent
 * over HTTP to the collector, with exact counts of what the collector accepted.
 */

const DECRYPTOR_GROUP = 'hes-failure-decryptor';

export interface StoredCounts {
  /** Reading rows. */
  rows: number;
  /** Distinct telegrams with readings (meter, receive time). */
  telegrams: number;
  /** Natural keys (meter, quantity, storage, tariff, ts) stored more than once. */
  duplicateKeys: number;
  /** Readings counted by the 30-minute rollup: more than `rows` if a replay was counted twice. */
  rollupCount: number;
}

export interface LoadOptions {
  meters: number;
  count: number;
  rate: number;
  seed: number;
  duplicates?: number;
}

/**
 * One FailureStack per test file, with its collector running: started before the file's tests, destroyed
 * after them. The returned function gives the running stack.
 */
export function failureStackForSuite(): () => FailureStack {
  let stack: FailureStack | undefined;
  beforeAll(async () => {
    stack = await FailureStack.start();
    await stack.startCollector();
  }, 420_000);
  afterAll(async () => {
    await stack?.destroy();
  });
  return () => {
    if (stack === undefined) throw new Error('the failure stack did not start (see the beforeAll error)');
    return stack;
  };
}

export class FailureStack {
  decryptor: NodeProcess | undefined;
  collector: NodeProcess | undefined;
  readonly db: Pool;
  private readonly admin: Admin;
  private readonly masterKey = randomBytes(32).toString('hex');
  readonly gatewayKeys = [generateApiKey(), generateApiKey()];
  private collectorPort = 0;
  private decryptorPort = 0;

  private constructor(
    private readonly build: Deployables,
    readonly postgres: PrivatePostgres,
    readonly redis: PrivateRedis,
    readonly kafkaMock: KafkaMockProcess,
    readonly databaseUrl: string,
    readonly kafka: Kafka,
  ) {
    this.db = new Pool({ connectionString: databaseUrl, max: 2 });
    // A pool error between queries (the server stopped on purpose) must not end the test process.
    this.db.on('error', () => undefined);
    this.admin = kafka.admin();
  }

  static async start(): Promise<FailureStack> {
    const build = await buildDeployables();
    const postgres = await PrivatePostgres.create();
    const redis = await PrivateRedis.create().catch(async (error: unknown) => {
      await postgres.destroy();
      throw error;
    });
    const kafkaMock = await startKafkaMock().catch(async (error: unknown) => {
      await redis.destroy();
      await postgres.destroy();
      throw error;
    });
    const databaseUrl = await postgres.createDatabase('hes');
    await runMigrations(databaseUrl, { dialect: 'postgres' });
    const kafka = new Kafka({
      clientId: 'hes-failure-test',
      brokers: kafkaMock.brokers,
      logLevel: logLevel.NOTHING,
    });
    const stack = new FailureStack(build, postgres, redis, kafkaMock, databaseUrl, kafka);
    await stack.admin.connect();
    return stack;
  }

  /** Topic names as the deployables derive them from the same environment. */
  get topics(): HesTopics {
    return loadConfig(this.env()).kafka.topics;
  }

  /** Everything the two deployables read from the environment. */
  private env(): Record<string, string> {
    return {
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      KAFKA_BROKERS: this.kafkaMock.brokers.join(','),
      KAFKA_CLIENT_ID: 'hes-failure',
      KAFKA_TOPIC_PREFIX: 'hes.failure.',
      KAFKA_PARTITIONS: '4',
      KAFKA_REPLICATION_FACTOR: '1',
      DATABASE_URL: this.databaseUrl,
      STORAGE_DIALECT: 'postgres',
      REDIS_URL: this.redis.url,
      HES_MASTER_KEY: this.masterKey,
    };
  }

  async startCollector(): Promise<void> {
    this.collectorPort = await findFreePortRange(1);
    const collector = NodeProcess.spawn('collector', this.build.collectorMain, {
      ...this.env(),
      COLLECTOR_PORT: String(this.collectorPort),
      // Per-request access logs would crowd the decryptor's lines out of failure messages.
      LOG_LEVEL: 'warn',
      COLLECTOR_MQTT_ENABLED: 'false',
      // The simulator runs simulated time ahead of the wall clock when it sends faster than real time.
      COLLECTOR_MAX_FUTURE_SKEW_MS: String(7 * 86_400_000),
    });
    this.collector = collector;
    await this.waitForStart(collector, 'to answer HTTP', async () => {
      const response = await fetch(`${this.collectorUrl}/health`).catch(() => undefined);
      return response !== undefined;
    });
  }

  private async waitForStart(
    started: NodeProcess,
    what: string,
    ready: () => boolean | Promise<boolean>,
  ): Promise<void> {
    await waitFor(`${started.name} ${what}`, async () => !started.alive || (await ready()), {
      timeoutMs: 60_000,
      context: () => this.logs(),
    });
    if (!started.alive) throw new Error(`${started.name} exited during start-up${this.logs()}`);
  }

  get collectorUrl(): string {
    return `http://127.0.0.1:${this.collectorPort}`;
  }

  /** Starts a decryptor process (a new one after a kill) and waits until it consumes. */
  async startDecryptor(): Promise<NodeProcess> {
    // One still running (left by a failed attempt of a retried test) would keep the port, so the new one
    // would exit at start-up, and it would go on consuming until the process ends: replace it.
    if (this.decryptor?.alive) await this.decryptor.kill('SIGKILL');
    this.decryptorPort = this.decryptorPort || (await findFreePortRange(1));
    const decryptor = NodeProcess.spawn('decryptor', this.build.decryptorMain, {
      ...this.env(),
      DECRYPTOR_PORT: String(this.decryptorPort),
      DECRYPTOR_POOL_SIZE: '2',
      DECRYPTOR_GROUP_ID: DECRYPTOR_GROUP,
      DECRYPTOR_SESSION_TIMEOUT_MS: '10000',
      DECRYPTOR_HEARTBEAT_INTERVAL_MS: '1000',
      DECRYPTOR_MAX_WAIT_MS: '100',
      DECRYPTOR_RETRY_INITIAL_MS: '200',
      DECRYPTOR_RETRY_MAX_MS: '2000',
      DECRYPTOR_LAG_POLL_MS: '500',
      DECRYPTOR_UNKNOWN_METER_TTL_MS: '0',
    });
    this.decryptor = decryptor;
    await this.waitForStart(decryptor, "to log 'decryptor consuming'", () =>
      decryptor.logged('decryptor consuming'),
    );
    return decryptor;
  }

  async decryptorHealth(): Promise<{ httpStatus: number; body: { status: string } }> {
    const response = await fetch(`http://127.0.0.1:${this.decryptorPort}/health`);
    return { httpStatus: response.status, body: (await response.json()) as { status: string } };
  }

  /** Registers the simulated fleet (idempotently) and sends `count` original telegrams through the collector. */
  async simulate(load: LoadOptions): Promise<SimulationSummary> {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const program = new Command('hes').exitOverride();
    registerSimulateCommand(
      program,
      { stdin: new PassThrough(), stdout, stderr, now: () => new Date() },
      { DATABASE_URL: this.databaseUrl, HES_MASTER_KEY: this.masterKey },
    );
    const args = [
      ['--meters', load.meters],
      ['--seed', load.seed],
      ['--groups', 8],
      ['--name-prefix', 'failure'],
      ['--url', this.collectorUrl],
      ['--rate', load.rate],
      ['--count', load.count],
      ['--duplicates', load.duplicates ?? 0.1],
      ['--batch-size', 200],
      ['--concurrency', 4],
      ['--progress-interval', 3600],
      ['--max-retry', 600],
    ].flatMap(([flag, value]) => [String(flag), String(value)]);
    await program.parseAsync(['simulate', '--register', '--api-key', ...this.gatewayKeys, ...args], {
      from: 'user',
    });
    const summary = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as SimulationSummary;
    if (summary.itemsNotDelivered !== 0 || summary.rejected !== 0 || summary.errors.length > 0) {
      throw new Error(`the simulator could not deliver its load: ${JSON.stringify(summary)}\n${err}`);
    }
    return summary;
  }

  /** Registers meters (no group: the collector files them under its default group) with encrypted keys. */
  async registerMeters(meters: Array<{ meterId: string; key?: Buffer }>): Promise<void> {
    const registry = new MeterRepository(this.db);
    const keys = new MeterKeyRepository(this.db);
    const cipher = new MeterKeyCipher(Buffer.from(this.masterKey, 'hex'));
    for (const meter of meters) {
      await registry.register({
        meterId: meter.meterId,
        manufacturer: 'KAM',
        deviceType: 0x16,
        version: 0x1b,
      });
      if (meter.key) await keys.store(meter.meterId, cipher.encrypt(meter.meterId, meter.key));
    }
  }

  /** A gateway of this test's own, for requests it builds by hand. */
  async createGateway(id: string): Promise<string> {
    const apiKey = generateApiKey();
    await new GatewayRepository(this.db).create({ id, name: id, apiKeyHash: hashApiKey(apiKey) });
    return apiKey;
  }

  async storedCounts(): Promise<StoredCounts> {
    const { rows } = await this.db.query<StoredCounts>(
      `SELECT (SELECT count(*)::int FROM readings) AS "rows",
              (SELECT count(DISTINCT (meter_id, ts))::int FROM readings) AS telegrams,
              (SELECT count(*)::int FROM (SELECT 1 FROM readings GROUP BY meter_id, quantity, storage, tariff, ts
                                          HAVING count(*) > 1) d) AS "duplicateKeys",
              (SELECT coalesce(sum(reading_count), 0)::int FROM readings_30m) AS "rollupCount"`,
    );
    return rows[0];
  }

  async consumerLag(): Promise<number> {
    return (await computeConsumerLag(this.admin, DECRYPTOR_GROUP, [this.topics.rawTelegrams.name])).total;
  }

  /** Waits until at least `telegrams` distinct telegrams have readings stored (the load is under way). */
  async waitForStoredTelegrams(what: string, telegrams: number): Promise<void> {
    await waitFor(what, async () => (await this.storedCounts()).telegrams >= telegrams, {
      timeoutMs: 120_000,
      context: () => this.logs(),
    });
  }

  /** Waits until the decryptor's /health answer satisfies `reached`. */
  async waitForDecryptorHealth(
    what: string,
    reached: (health: { httpStatus: number; body: { status: string } }) => boolean,
  ): Promise<void> {
    await waitFor(what, async () => reached(await this.decryptorHealth()), { context: () => this.logs() });
  }

  /** Waits until exactly `expected` is stored and the decryptor has committed the whole raw topic. */
  async waitForExactlyStored(expected: { telegrams: number; rows: number }, timeoutMs = 120_000) {
    let last: StoredCounts | undefined;
    await waitFor(
      `${expected.telegrams} telegrams / ${expected.rows} readings stored and consumer lag 0`,
      async () => {
        last = await this.storedCounts();
        return last.rows >= expected.rows && (await this.consumerLag()) === 0;
      },
      { timeoutMs, intervalMs: 500, context: () => `\nlast counts: ${JSON.stringify(last)}${this.logs()}` },
    );
    return this.storedCounts();
  }

  /** Every dead letter on the topic so far, read from the beginning by a throw-away consumer group. */
  async deadLetters(expected: number, timeoutMs = 60_000): Promise<DeadLetterMessage[]> {
    const letters: DeadLetterMessage[] = [];
    const consumer = this.kafka.consumer({
      groupId: `hes-failure-dlq-${Date.now()}`,
      sessionTimeout: 6000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 100,
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: this.topics.deadLetters.name, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          if (message.value) letters.push(decodeDeadLetter(message.value));
        },
      });
      await waitFor(`${expected} dead letters`, () => letters.length >= expected, {
        timeoutMs,
        context: () => `\nreceived ${letters.length}${this.logs()}`,
      });
    } finally {
      await consumer.disconnect();
    }
    return letters;
  }

  /** Tails of every process and server log, for failure messages. */
  logs(): string {
    return [
      this.decryptor?.tail() ?? '',
      this.collector?.tail() ?? '',
      `\n--- postgres log ---\n${this.postgres.logTail()}`,
    ].join('');
  }

  async destroy(): Promise<void> {
    await this.collector?.kill('SIGKILL');
    await this.decryptor?.kill('SIGKILL');
    await this.admin.disconnect().catch(() => undefined);
    await this.db.end().catch(() => undefined);
    await this.kafkaMock.kill();
    await this.redis.destroy();
    await this.postgres.destroy();
  }
}
