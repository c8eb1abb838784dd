import { BrokerUnavailableError, ensureTopics, type TelegramProducer, type TopicSpec } from '@hes/messaging';
import type { Admin } from 'kafkajs';
import type { Logger } from 'pino';
import type { EnvelopeSink } from './ingest/pipeline';

const RETRY_INITIAL_MS = 500;
const RETRY_MAX_MS = 15_000;

/**
 * The collector's link to Kafka: connects the admin client and the raw-topic producer and creates the
 * topics that are missing. When the cluster is unreachable at start-up the collector still starts —
 * it answers ingest with 503 + Retry-After and reports Kafka down on /health — and keeps retrying with
 * back-off, so a collector started before (or during an outage of) the brokers recovers by itself.
 */
export class KafkaConnection {
  private isReady = false;
  private stopped = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private markReady!: () => void;
  /** Resolves once the topics exist and the producer is connected. */
  readonly ready = new Promise<void>((resolve) => (this.markReady = resolve));

  constructor(
    private readonly admin: Admin,
    private readonly producer: TelegramProducer,
    private readonly topics: TopicSpec[],
    private readonly logger: Logger,
  ) {}

  /** Starts connecting in the background; `ready` tells when it succeeded. */
  start(): void {
    this.loop ??= this.connectUntilReady();
  }

  /** Produces through the raw-topic producer once connected; before that, fails as the broker being down. */
  readonly sink: EnvelopeSink = {
    send: (envelopes) => {
      if (!this.isReady) {
        return Promise.reject(
          new BrokerUnavailableError('Kafka not reachable since start-up: raw topic not verified yet'),
        );
      }
      return this.producer.send([...envelopes]);
    },
  };

  /** Health probe: the cluster answers a metadata request. */
  async probe(): Promise<void> {
    if (!this.isReady) throw new Error('not connected since start-up');
    await this.admin.describeCluster();
  }

  /** Ends the retry loop (waiting for an attempt in progress) and disconnects the admin and the producer. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await Promise.allSettled([this.admin.disconnect(), this.producer.disconnect()]);
  }

  private async connectUntilReady(): Promise<void> {
    let delay = RETRY_INITIAL_MS;
    while (!this.stopped) {
      try {
        await this.admin.connect();
        const result = await ensureTopics(this.admin, this.topics);
        if (result.created.length > 0) this.logger.info({ topics: result.created }, 'created Kafka topics');
        for (const mismatch of result.partitionMismatches) {
          // Not altered: adding partitions would move meter groups and break per-meter order.
          this.logger.warn(mismatch, 'Kafka topic has a different partition count than configured');
        }
        await this.producer.connect();
        if (this.stopped) return;
        this.isReady = true;
        this.markReady();
        this.logger.info('connected to Kafka');
        return;
      } catch (error) {
        this.logger.warn(
          { err: (error as Error).message, retryInMs: delay },
          'Kafka unavailable at start-up; ingest answers 503 until it is reachable',
        );
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
  }
}
