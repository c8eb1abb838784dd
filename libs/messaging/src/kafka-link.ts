import type { Admin } from 'kafkajs';
import type { Logger } from 'pino';
import { ensureTopics, type TopicSpec } from './topics';

const RETRY_INITIAL_MS = 500;
const RETRY_MAX_MS = 15_000;

/** A producer the link connects once its topics exist, and disconnects on stop. */
export interface LinkedProducer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
}

export interface KafkaLinkOptions {
  admin: Admin;
  producer: LinkedProducer;
  topics: TopicSpec[];
  logger: Pick<Logger, 'info' | 'warn'>;
  /** Logged once connected. */
  connectedMessage: string;
  /** Logged at each failed attempt: what callers get while Kafka is unreachable. */
  unavailableMessage: string;
}

/**
 * A service's link to Kafka: connects the admin client, creates the topics that are missing and connects the
 * producer, retrying with back-off in the background. A service started while the brokers are down still
 * starts, answers what needs Kafka as unavailable and reports Kafka down on /health, and recovers by itself.
 */
export class KafkaLink {
  private isReady = false;
  private stopped = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private markReady!: () => void;
  /** Resolves once the topics exist and the producer is connected. */
  readonly ready = new Promise<void>((resolve) => (this.markReady = resolve));

  constructor(private readonly options: KafkaLinkOptions) {}

  get connected(): boolean {
    return this.isReady;
  }

  /** Starts connecting in the background; `ready` tells when it succeeded. */
  start(): void {
    this.loop ??= this.connectUntilReady();
  }

  /** Starts connecting if not yet started; true once connected, false when `waitMs` passed first. */
  async connectWithin(waitMs: number): Promise<boolean> {
    if (this.isReady) return true;
    this.start();
    let timer: NodeJS.Timeout | undefined;
    const connected = await Promise.race([
      this.ready.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), waitMs))),
    ]);
    clearTimeout(timer);
    return connected;
  }

  /** Health probe: connected since start-up and the cluster answers a metadata request. */
  async probe(): Promise<void> {
    if (!this.isReady) throw new Error('not connected to Kafka since start-up');
    await this.options.admin.describeCluster();
  }

  /** Ends the retry loop (waiting for an attempt in progress) and disconnects the admin and the producer. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    if (this.loop) {
      await Promise.allSettled([this.options.admin.disconnect(), this.options.producer.disconnect()]);
    }
  }

  private async connectUntilReady(): Promise<void> {
    const { admin, producer, topics, logger } = this.options;
    let delay = RETRY_INITIAL_MS;
    while (!this.stopped) {
      try {
        await admin.connect();
        const result = await ensureTopics(admin, topics);
        if (result.created.length > 0) logger.info({ topics: result.created }, 'created Kafka topics');
        for (const mismatch of result.partitionMismatches) {
          // Not altered: adding partitions would move meter groups and break per-meter order.
          logger.warn(mismatch, 'Kafka topic has a different partition count than configured');
        }
        await producer.connect();
        if (this.stopped) return;
        this.isReady = true;
        this.markReady();
        logger.info({ topics: topics.map((spec) => spec.topic) }, this.options.connectedMessage);
        return;
      } catch (error) {
        logger.warn({ err: (error as Error).message, retryInMs: delay }, this.options.unavailableMessage);
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
