import {
  BrokerUnavailableError,
  CommandProducer,
  ensureTopics,
  type CommandMessage,
  type TopicSpec,
} from '@hes/messaging';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';

/** Where the API hands meter commands: resolves once the broker durably acknowledged the command. */
export interface MeterCommandSink {
  publish(command: CommandMessage, meterGroup: string): Promise<void>;
}

const RETRY_INITIAL_MS = 500;
const RETRY_MAX_MS = 15_000;

/**
 * The API's link to Kafka for commands: creates the commands topic when it is missing and connects the
 * command producer, retrying with back-off in the background, so an API started while the brokers are down
 * still serves reads and answers commands with 503 until Kafka is back (its /health reports Kafka down).
 * `start()` is called at start-up; a publish before that starts the connection itself.
 */
export class KafkaCommandPublisher implements MeterCommandSink {
  private readonly admin: Admin;
  private readonly producer: CommandProducer;
  private isReady = false;
  private stopped = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private markReady!: () => void;
  /** Resolves once the topic exists and the producer is connected. */
  readonly ready = new Promise<void>((resolve) => (this.markReady = resolve));

  constructor(
    kafka: Kafka,
    private readonly topic: TopicSpec,
    private readonly logger: Logger,
    /** How long a publish waits for a connection still being made before it fails as unavailable. */
    private readonly connectWaitMs = 5_000,
  ) {
    this.admin = kafka.admin();
    this.producer = new CommandProducer(kafka, { topic: topic.topic });
  }

  start(): void {
    this.loop ??= this.connectUntilReady();
  }

  async publish(command: CommandMessage, meterGroup: string): Promise<void> {
    if (!this.isReady) {
      this.start();
      let timer: NodeJS.Timeout | undefined;
      const connected = await Promise.race([
        this.ready.then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.connectWaitMs))),
      ]);
      clearTimeout(timer);
      if (!connected) {
        throw new BrokerUnavailableError(
          `Kafka unavailable: commands topic ${this.topic.topic} not reachable`,
        );
      }
    }
    await this.producer.send(command, meterGroup);
  }

  /** Health probe: connected since start-up and the cluster answers a metadata request. */
  async probe(): Promise<void> {
    if (!this.isReady) throw new Error('not connected to Kafka');
    await this.admin.describeCluster();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    if (this.loop) await Promise.allSettled([this.admin.disconnect(), this.producer.disconnect()]);
  }

  private async connectUntilReady(): Promise<void> {
    let delay = RETRY_INITIAL_MS;
    while (!this.stopped) {
      try {
        await this.admin.connect();
        const result = await ensureTopics(this.admin, [this.topic]);
        if (result.created.length > 0) this.logger.info({ topics: result.created }, 'created Kafka topics');
        for (const mismatch of result.partitionMismatches) {
          this.logger.warn(mismatch, 'Kafka topic has a different partition count than configured');
        }
        await this.producer.connect();
        if (this.stopped) return;
        this.isReady = true;
        this.markReady();
        this.logger.info({ topic: this.topic.topic }, 'connected to Kafka for commands');
        return;
      } catch (error) {
        this.logger.warn(
          { err: (error as Error).message, retryInMs: delay },
          'Kafka unavailable; meter commands answer 503 until it is reachable',
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
