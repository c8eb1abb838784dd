import { Admin, Kafka, logLevel, LogEntry } from 'kafkajs';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { HesConfig } from '@hes/config';
import { MeterKeyCipher, MeterKeyStore } from '@hes/keys';
import { BatchConsumer, RetentionLossTracker, computeConsumerLag, ensureTopics } from '@hes/messaging';
import { checkHealth, type HesMetrics, type ProbeResult } from '@hes/metrics';
import {
  CompactFormatRepository,
  EventWriter,
  MaintenanceReport,
  MeterKeyRepository,
  MeterRepository,
  MeterStatusWriter,
  ReadingWriter,
  StorageMaintenance,
  UnknownMeterRepository,
  createPool,
  runMigrations,
} from '@hes/storage';
import { DecodePool } from './decode/decode-pool';
import type { DecryptorSettings } from './decryptor-settings';
import { CompactFormatRegistry } from './formats/format-registry';
import { BatchAbandonedError, BatchProcessor, BatchProcessorDeps } from './pipeline/batch-processor';
import { DerivedPublisher } from './pipeline/derived-publisher';
import { EventStateRepository } from './pipeline/event-state-repository';
import { KnownMeters } from './pipeline/known-meters';
import { StatusEventTracker } from './pipeline/status-events';
import { TelegramWindow } from './pipeline/telegram-window';

/** Redis side of the decryptor (ReadingCache from @hes/cache): optional, never on the durable path. */
export type DecryptorCache = NonNullable<BatchProcessorDeps['cache']> & {
  readonly ready: boolean;
  close(): Promise<void>;
};

export interface DecryptorOptions {
  config: HesConfig;
  settings: DecryptorSettings;
  logger: Logger;
  metrics: HesMetrics;
  cache?: DecryptorCache;
  /** Piscina worker file; defaults to the compiled worker or its development entry. */
  workerFilename?: string;
}

export type DependencyState = ProbeResult;

export interface GroupMembership {
  joins: number;
  partitions: number[];
}

export interface DecryptorHealth {
  status: 'ok' | 'degraded' | 'unavailable';
  checks: {
    database: DependencyState;
    kafka: DependencyState;
    redis: DependencyState;
    consumer: DependencyState;
  };
}

/** Advisory lock that elects the decryptor running storage maintenance. */
const MAINTENANCE_LOCK_ID = 4_711_020_252;
/** Longest wait before listening for key changes again after the listening connection failed. */
const KEY_RELISTEN_MS = 5000;

/**
 * The decryptor process: a consumer-group member on the raw telegram topic. The partition batches of each
 * fetch are merged into one unit of work, decoded in one worker-pool task and made durable by the
 * BatchProcessor in one storage transaction before their offsets are committed together.
 * Owns every connection it opens and closes them in dependency order on `stop`.
 */
export class Decryptor {
  private consumerRunning = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private stopKeyListener: (() => Promise<void>) | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly options: DecryptorOptions,
    private readonly db: Pool,
    private readonly admin: Admin,
    private readonly batchConsumer: BatchConsumer,
    private readonly pool: DecodePool,
    private readonly publisher: DerivedPublisher,
    private readonly keyStore: MeterKeyStore,
    private readonly formats: CompactFormatRegistry,
    private readonly membership: GroupMembership,
    private readonly meterStatus: MeterStatusWriter,
  ) {}

  static async start(options: DecryptorOptions): Promise<Decryptor> {
    const { config, settings, logger, metrics } = options;
    if (!config.masterKey) {
      throw new Error(
        'the decryptor needs the meter-key master key: set HES_MASTER_KEY or HES_MASTER_KEY_FILE',
      );
    }
    const db = createPool(config.database.url, { applicationName: 'hes-decryptor', max: 8 });
    const started: Array<() => Promise<unknown>> = [() => db.end()];
    try {
      // Advisory-locked in runMigrations: several instances starting together migrate once.
      if (settings.migrate) {
        const migrated = await runMigrations(db, {
          dialect: config.database.dialect,
          rawRetentionDays: config.database.rawRetentionDays,
        });
        logger.info({ dialect: migrated.dialect, applied: migrated.applied }, 'database schema up to date');
      }

      const master = config.masterKey.bytes();
      const keyRepository = new MeterKeyRepository(db);
      const keyStore = new MeterKeyStore(keyRepository, new MeterKeyCipher(master));
      master.fill(0);
      const keysLoaded = await keyStore.load();
      logKeyFailures(logger, keysLoaded.failures);
      logger.info({ keys: keyStore.size }, 'meter keys loaded');

      const formats = new CompactFormatRegistry(new CompactFormatRepository(db), (message) =>
        logger.warn({ conflict: message }, 'conflicting compact-frame format ignored'),
      );
      await formats.refresh();

      const kafka = new Kafka({
        clientId: config.kafka.clientId,
        brokers: [...config.kafka.brokers],
        logLevel: logLevel.WARN,
        logCreator: kafkaLogCreator(logger),
      });
      const admin = kafka.admin();
      await admin.connect();
      started.push(() => admin.disconnect());
      const topics = config.kafka.topics;
      const ensured = await ensureTopics(
        admin,
        [topics.rawTelegrams, topics.readings, topics.events, topics.deadLetters].map((t) => ({
          topic: t.name,
          numPartitions: t.partitions,
          replicationFactor: t.replicationFactor,
        })),
      );
      for (const mismatch of ensured.partitionMismatches)
        logger.warn(mismatch, 'topic partition count differs');

      const publisher = new DerivedPublisher(kafka, {
        readings: topics.readings.name,
        events: topics.events.name,
        deadLetters: topics.deadLetters.name,
      });
      await publisher.connect();
      started.push(() => publisher.disconnect());

      const pool = new DecodePool({ threads: config.decryptor.poolSize, filename: options.workerFilename });
      started.push(() => pool.close());

      const tracker = new StatusEventTracker();
      const meterStatus = new MeterStatusWriter(db, {
        onError: (error) =>
          logger.warn(
            { err: error.message },
            'meter status flush failed; the sightings are kept for the next one',
          ),
      });
      const processor = new BatchProcessor({
        pool,
        keys: keyStore,
        meters: new KnownMeters(new MeterRepository(db), settings.unknownMeterTtlMs),
        formats,
        readings: new ReadingWriter(db),
        events: new EventWriter(db),
        unknownMeters: new UnknownMeterRepository(db),
        eventState: new EventStateRepository(db),
        cache: options.cache,
        publisher,
        meterStatus,
        tracker,
        window: new TelegramWindow(settings.dedupWindowMs, settings.dedupMaxEntries),
        metrics,
        logger,
        retry: { initialMs: settings.retryInitialMs, maxMs: settings.retryMaxMs },
      });

      const consumer = kafka.consumer({
        groupId: settings.groupId,
        sessionTimeout: settings.sessionTimeoutMs,
        heartbeatInterval: settings.heartbeatIntervalMs,
        maxWaitTimeInMs: settings.maxWaitTimeMs,
        maxBytesPerPartition: settings.maxBytesPerPartition,
        maxBytes: settings.maxBytesPerFetch,
        allowAutoTopicCreation: false,
      });
      // Partitions may have been processed elsewhere meanwhile: status state is re-read from storage.
      const membership: GroupMembership = { joins: 0, partitions: [] };
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        membership.joins += 1;
        membership.partitions = Object.values(event.payload.memberAssignment)
          .flat()
          .sort((a, b) => a - b);
        tracker.forget();
        logger.info({ assignment: event.payload.memberAssignment }, 'joined the consumer group');
      });
      const batchConsumer = new BatchConsumer(consumer, {
        topics: [topics.rawTelegrams.name],
        fromBeginning: true,
        partitionsConsumedConcurrently: settings.partitionsConcurrently,
        initialBackoffMs: settings.retryInitialMs,
        maxBackoffMs: settings.retryMaxMs,
        onError: (error, info) => {
          if (error instanceof BatchAbandonedError) logger.info(info, error.message);
          else
            logger.warn(
              { ...info, err: (error as Error).message },
              'batch not committed; it will be redelivered',
            );
        },
      });

      const decryptor = new Decryptor(
        options,
        db,
        admin,
        batchConsumer,
        pool,
        publisher,
        keyStore,
        formats,
        membership,
        meterStatus,
      );
      started.push(() => decryptor.stop());
      await decryptor.startBackgroundWork(keyRepository);
      await batchConsumer.startMerged(async (batches) => {
        const summary = await processor.process(batches);
        logger.debug(
          { partitions: batches.map((b) => `${b.topic}/${b.partition}`), ...summary },
          'batches stored',
        );
      });
      decryptor.consumerRunning = true;
      logger.info(
        { group: settings.groupId, topic: topics.rawTelegrams.name, threads: config.decryptor.poolSize },
        'decryptor consuming',
      );
      return decryptor;
    } catch (error) {
      for (const close of started.reverse()) await close().catch(() => undefined);
      throw error;
    }
  }

  /** Key change notifications, key/format polling, lag and pool gauges. */
  private async startBackgroundWork(keyRepository: MeterKeyRepository): Promise<void> {
    const { settings, logger, metrics, config } = this.options;
    this.meterStatus.start();
    await this.listenForKeyChanges(keyRepository);
    this.keyStore.startPolling(settings.keyPollMs, (error) =>
      logger.warn({ err: (error as Error).message }, 'meter key refresh failed'),
    );
    this.every(settings.formatRefreshMs, async () => {
      const added = await this.formats.refresh();
      if (added > 0) logger.info({ added }, 'compact-frame formats learned by other decryptors loaded');
    });
    if (settings.maintenanceMs > 0) {
      const maintenance = new StorageMaintenance(this.db);
      this.every(settings.maintenanceMs, async () => {
        await this.maintainStorage(maintenance);
      });
    }
    const rawTopic = config.kafka.topics.rawTelegrams.name;
    const retentionLosses = new RetentionLossTracker();
    this.every(settings.lagPollMs, async () => {
      const lag = await computeConsumerLag(this.admin, settings.groupId, [rawTopic]);
      for (const p of lag.partitions) {
        metrics.consumerLag.set(
          { group: settings.groupId, topic: p.topic, partition: String(p.partition) },
          p.lag,
        );
      }
      // Telegrams the broker deleted before this group processed them: never stored, and no retry can help.
      for (const loss of retentionLosses.observe(lag.partitions)) {
        metrics.offsetsLostToRetention.inc(
          { group: settings.groupId, topic: loss.topic, partition: String(loss.partition) },
          loss.lost,
        );
        logger.warn(
          { group: settings.groupId, ...loss },
          'messages lost to retention before they were processed',
        );
      }
      metrics.workerPoolUtilisation.set({ pool: 'decode' }, this.pool.sampleUtilisation());
    });
  }

  /**
   * Key change notifications on a dedicated connection. When that connection fails (database outage) the
   * polling timer keeps keys fresh and the listener is re-established; a refresh then picks up what was
   * missed meanwhile.
   */
  private async listenForKeyChanges(keyRepository: MeterKeyRepository): Promise<void> {
    const { logger, settings } = this.options;
    this.stopKeyListener = await keyRepository.listen(
      (meterId) => {
        this.keyStore
          .reload(meterId)
          .then((result) => logKeyFailures(logger, result.failures))
          .catch((error: unknown) =>
            logger.warn({ meterId, err: (error as Error).message }, 'key reload failed'),
          );
      },
      (error) => {
        logger.warn(
          { err: error.message },
          'key change listener lost its connection; listening again shortly',
        );
        const release = this.stopKeyListener;
        this.stopKeyListener = undefined;
        release?.().catch(() => undefined);
        this.relistenLater(keyRepository, Math.min(settings.keyPollMs, KEY_RELISTEN_MS));
      },
    );
  }

  private relistenLater(keyRepository: MeterKeyRepository, delayMs: number): void {
    const timer = setTimeout(() => {
      this.timers.splice(this.timers.indexOf(timer), 1);
      if (this.stopping) return;
      this.listenForKeyChanges(keyRepository)
        .then(() => this.keyStore.refresh())
        .then((result) => logKeyFailures(this.options.logger, result.failures))
        .catch(() => this.relistenLater(keyRepository, delayMs));
    }, delayMs);
    timer.unref();
    this.timers.push(timer);
  }

  /**
   * One decryptor per database does the housekeeping: the session advisory lock is held on one connection
   * for the duration of the run, and the others skip their turn.
   */
  async maintainStorage(maintenance: StorageMaintenance): Promise<MaintenanceReport | undefined> {
    const client = await this.db.connect();
    try {
      const lock = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
        MAINTENANCE_LOCK_ID,
      ]);
      if (!lock.rows[0].locked) return undefined;
      try {
        const report = await maintenance.run();
        this.options.logger.info(report, 'storage maintenance done');
        return report;
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MAINTENANCE_LOCK_ID]);
      }
    } finally {
      client.release();
    }
  }

  private every(intervalMs: number, task: () => Promise<void>): void {
    const timer = setInterval(() => {
      task().catch((error: unknown) =>
        this.options.logger.warn({ err: (error as Error).message }, 'background refresh failed'),
      );
    }, intervalMs);
    timer.unref();
    this.timers.push(timer);
  }

  async health(): Promise<DecryptorHealth> {
    const { database, kafka } = (
      await checkHealth({
        database: async () => {
          await this.db.query('SELECT 1');
        },
        kafka: async () => {
          await this.admin.describeCluster();
        },
      })
    ).checks;
    const cache = this.options.cache;
    const redis: DependencyState = !cache
      ? { status: 'down', error: 'no cache configured' }
      : cache.ready
        ? { status: 'up' }
        : { status: 'down', error: 'Redis connection not ready' };
    const consumer: DependencyState = this.consumerRunning
      ? { status: 'up' }
      : { status: 'down', error: 'not consuming' };
    const essential = [database, kafka, consumer].every((s) => s.status === 'up');
    return {
      status: !essential ? 'unavailable' : redis.status === 'up' ? 'ok' : 'degraded',
      checks: { database, kafka, redis, consumer },
    };
  }

  /**
   * Graceful stop: the consumer leaves the group after the batches in flight finish (committed) or are
   * abandoned (not committed, redelivered elsewhere); then the pool drains and connections close.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    const { logger } = this.options;
    this.consumerRunning = false;
    for (const timer of this.timers) clearTimeout(timer);
    this.keyStore.stopPolling();
    const steps: Array<[string, () => Promise<unknown>]> = [
      ['consumer', () => this.batchConsumer.stop()],
      // After the consumer, so the sightings of every stored batch are in; before the database closes.
      ['meter status', () => this.meterStatus.stop()],
      ['publisher', () => this.publisher.disconnect()],
      ['decode pool', () => this.pool.close()],
      ['key listener', () => this.stopKeyListener?.() ?? Promise.resolve()],
      ['cache', () => this.options.cache?.close() ?? Promise.resolve()],
      ['kafka admin', () => this.admin.disconnect()],
      ['database', () => this.db.end()],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (error) {
        logger.warn({ step: name, err: (error as Error).message }, 'shutdown step failed');
      }
    }
    logger.info('decryptor stopped');
  }

  /** Raw-topic partitions assigned at the latest group join, and how many joins (rebalances) there were. */
  get groupMembership(): Readonly<GroupMembership> {
    return this.membership;
  }
}

/** Failures name the meter and fingerprint only: MeterKeyStore never puts key bytes in them. */
function logKeyFailures(
  logger: Logger,
  failures: Array<{ meterId: string; fingerprint: string; reason: string }>,
) {
  for (const failure of failures) logger.error(failure, 'meter key cannot be used');
}

/** kafkajs logs through pino as structured lines. */
function kafkaLogCreator(logger: Logger) {
  const child = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...fields } = log;
      if (level === logLevel.ERROR) child.error(fields, message);
      else if (level === logLevel.WARN) child.warn(fields, message);
      else if (level === logLevel.INFO) child.info(fields, message);
      else child.debug(fields, message);
    };
}
