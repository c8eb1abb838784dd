import type { INestApplication } from '@nestjs/common';
import { AuditLog } from '@hes/auth';
import { loadConfig, type HesConfig, type TopicConfig } from '@hes/config';
import { TelegramProducer, type TopicSpec } from '@hes/messaging';
import { HesMetrics } from '@hes/metrics';
import { createPool, runMigrations } from '@hes/storage';
import { Kafka, logLevel as KafkaLogLevel, type logCreator } from 'kafkajs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import pino, { type Logger } from 'pino';
import {
  PostgresGatewayCredentials,
  PostgresHandheldUploads,
  PostgresMeterGroups,
  PostgresMeterSocieties,
} from './adapters/postgres-sources';
import { createCollectorApp } from './app';
import { loadCollectorSettings, type CollectorSettings } from './collector-settings';
import { KafkaConnection } from './kafka-connection';

export interface CollectorRuntimeOptions {
  /** Environment to configure from; process.env by default. */
  env?: NodeJS.ProcessEnv;
  /** Overrides COLLECTOR_PORT; 0 picks a free port. */
  port?: number;
}

export interface RunningCollector {
  readonly app: INestApplication;
  readonly config: HesConfig;
  readonly settings: CollectorSettings;
  /** The port the HTTP server listens on. */
  readonly port: number;
  readonly kafka: KafkaConnection;
  /** Graceful stop: no new requests or MQTT messages, in-flight ones finish, then everything disconnects. */
  stop(): Promise<void>;
}

/**
 * Builds and starts the collector from configuration: database pool (and migrations, unless disabled),
 * Kafka client, topics and raw-topic producer, the PostgreSQL-backed gateway keys, meter groups and
 * upload records, the HTTP app and the MQTT ingest. Kafka may be down at start-up (see KafkaConnection);
 * the database must answer when migrations run at start-up.
 */
export async function startCollector(options: CollectorRuntimeOptions = {}): Promise<RunningCollector> {
  const env = options.env ?? process.env;
  const config = loadConfig(env);
  const settings = loadCollectorSettings(env);
  const logger = pino({ level: config.logLevel, base: { app: 'collector' } });
  const port = options.port ?? config.ports.collector;

  const pool = createPool(config.database.url, {
    max: settings.dbPoolSize,
    applicationName: 'hes-collector',
  });
  try {
    if (settings.migrateOnStart) {
      const migrated = await runMigrations(pool, {
        dialect: config.database.dialect,
        rawRetentionDays: config.database.rawRetentionDays,
      });
      logger.info({ dialect: migrated.dialect, applied: migrated.applied }, 'database schema up to date');
    }
  } catch (error) {
    await pool.end();
    throw error;
  }

  const { topics } = config.kafka;
  const kafka = new Kafka({
    clientId: `${config.kafka.clientId}-collector`,
    brokers: [...config.kafka.brokers],
    logLevel: KafkaLogLevel.WARN,
    logCreator: kafkaLogCreator(logger),
    // Bounded, so an unreachable cluster surfaces as an error within seconds instead of a long hang.
    connectionTimeout: 3000,
    retry: { initialRetryTime: 200, maxRetryTime: 2000, retries: 3 },
  });
  const admin = kafka.admin();
  const producer = new TelegramProducer(kafka, { topic: topics.rawTelegrams.name });
  const kafkaConnection = new KafkaConnection(
    admin,
    producer,
    [topicSpec(topics.rawTelegrams), topicSpec(topics.deadLetters)],
    logger,
  );
  kafkaConnection.start();

  let app: INestApplication;
  try {
    app = await createCollectorApp({
      settings,
      metrics: new HesMetrics({ app: 'collector' }),
      logLevel: config.logLevel,
      sink: kafkaConnection.sink,
      meterGroups: new PostgresMeterGroups(pool),
      meterSocieties: new PostgresMeterSocieties(pool),
      credentials: new PostgresGatewayCredentials(pool),
      audit: new AuditLog(pool),
      uploads: new PostgresHandheldUploads(pool),
      healthChecks: {
        kafka: () => kafkaConnection.probe(),
        database: async () => {
          await pool.query('SELECT 1');
        },
      },
      ...(settings.mqttEnabled
        ? {
            mqtt: {
              kafka,
              kafkaReady: kafkaConnection.ready,
              settings: {
                url: config.mqtt.url,
                topic: config.mqtt.topic,
                shareGroup: settings.mqttShareGroup,
                clientId: settings.mqttClientId ?? `hes-collector-${hostname()}-${port || process.pid}`,
                deadLetterTopic: topics.deadLetters.name,
              },
            },
          }
        : {}),
    });
    await app.listen(port);
  } catch (error) {
    await kafkaConnection.stop();
    await pool.end();
    throw error;
  }
  const server = app.getHttpServer() as Server;
  const listening = (server.address() as AddressInfo).port;
  logger.info({ port: listening, mqtt: settings.mqttEnabled }, 'collector listening');

  let stopped: Promise<void> | undefined;
  const stop = async () => {
    logger.info('collector stopping: draining in-flight requests and messages');
    // app.close() stops the MQTT intake, then closes the HTTP server, which waits for running requests.
    let timer: NodeJS.Timeout | undefined;
    const drained = app.close();
    const timedOut = await Promise.race([
      drained.then(() => false),
      new Promise<boolean>(
        (resolve) => (timer = setTimeout(() => resolve(true), settings.shutdownTimeoutMs)),
      ),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      logger.warn({ timeoutMs: settings.shutdownTimeoutMs }, 'shutdown timeout: closing open connections');
      server.closeAllConnections();
      await drained;
    }
    await kafkaConnection.stop();
    await pool.end();
    logger.info('collector stopped');
  };

  return {
    app,
    config,
    settings,
    port: listening,
    kafka: kafkaConnection,
    stop: () => (stopped ??= stop()),
  };
}

function topicSpec(topic: TopicConfig): TopicSpec {
  return {
    topic: topic.name,
    numPartitions: topic.partitions,
    replicationFactor: topic.replicationFactor,
  };
}

/** kafkajs log lines through pino, at the matching level, as structured fields. */
function kafkaLogCreator(logger: Logger): logCreator {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return () =>
    ({ namespace, level, log }) => {
      const { message, ...fields } = log;
      const entry = { namespace, ...fields };
      if (level === KafkaLogLevel.ERROR) kafkaLogger.error(entry, message);
      else if (level === KafkaLogLevel.WARN) kafkaLogger.warn(entry, message);
      else if (level === KafkaLogLevel.INFO) kafkaLogger.info(entry, message);
      else kafkaLogger.debug(entry, message);
    };
}
