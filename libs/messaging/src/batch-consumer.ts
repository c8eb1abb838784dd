import type { Consumer, KafkaMessage } from 'kafkajs';

export interface ConsumedBatch {
  topic: string;
  partition: number;
  messages: KafkaMessage[];
  highWatermark: string;
  /**
   * Keeps the member in the group while a handler retries inside the batch (e.g. storage down); throws when
   * the group is rebalancing, in which case the handler should give up the batch.
   */
  heartbeat: () => Promise<void>;
  /** False once the consumer is stopping or the partition was revoked: a retrying handler should give up. */
  isActive: () => boolean;
}

/**
 * Processes one fetched batch of one partition. Returns how many leading messages are durably handled
 * (stored, dead-lettered, or deliberately skipped); omit the return value when all of them are. Only those
 * offsets are committed. Throwing means "nothing durable, try again later" (e.g. the database is down): the
 * partition is paused with exponential back-off and the same messages are redelivered on resume. Poison
 * messages must be dead-lettered by the handler and counted as handled, so they never block a partition.
 */
export type BatchHandler = (batch: ConsumedBatch) => Promise<number | void>;

export interface BatchRetryInfo {
  topic: string;
  partition: number;
  attempt: number;
  retryInMs: number;
}

export interface BatchConsumerOptions {
  topics: string[];
  fromBeginning?: boolean;
  /** Partition batches handled at the same time (kafkajs partitionsConsumedConcurrently). Default 1. */
  partitionsConsumedConcurrently?: number;
  /** First back-off after a failed or partially handled batch. Default 200 ms. */
  initialBackoffMs?: number;
  /** Back-off ceiling. Default 10 s. */
  maxBackoffMs?: number;
  /** Called for handler failures and failed commits; the consumer keeps running either way. */
  onError?: (
    error: unknown,
    info: BatchRetryInfo | { topic: string; partition: number; commit: true },
  ) => void;
}

/**
 * A kafkajs consumer run with manual offset management: no auto-commit, no auto-resolve. After each batch
 * it resolves and commits exactly the offsets the handler reported durable, so a crash or restart resumes
 * at the first message not yet durably handled (at-least-once; downstream writes are idempotent).
 *
 * kafkajs fetches each partition from its last resolved offset, so unresolved messages of a batch are
 * fetched again after the partition resumes.
 */
export class BatchConsumer {
  private readonly failures = new Map<string, number>();
  private readonly resumeTimers = new Set<NodeJS.Timeout>();
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(
    private readonly consumer: Consumer,
    private readonly options: BatchConsumerOptions,
  ) {
    this.initialBackoffMs = options.initialBackoffMs ?? 200;
    this.maxBackoffMs = options.maxBackoffMs ?? 10_000;
  }

  async start(handler: BatchHandler): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: this.options.topics,
      fromBeginning: this.options.fromBeginning ?? false,
    });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 1,
      eachBatch: async ({ batch, resolveOffset, heartbeat, pause, isRunning, isStale }) => {
        if (batch.isEmpty() || !isRunning() || isStale()) return;
        const { topic, partition, messages } = batch;
        const key = `${topic}/${partition}`;
        let handled: number;
        try {
          const result = await handler({
            topic,
            partition,
            messages,
            highWatermark: batch.highWatermark,
            heartbeat,
            isActive: () => isRunning() && !isStale(),
          });
          handled = result === undefined ? messages.length : Math.max(0, Math.min(result, messages.length));
        } catch (error) {
          this.backOff(key, topic, partition, pause, error);
          return;
        }
        if (handled > 0 && !isStale()) {
          const last = messages[handled - 1].offset;
          resolveOffset(last);
          try {
            await this.consumer.commitOffsets([{ topic, partition, offset: (BigInt(last) + 1n).toString() }]);
          } catch (error) {
            // Typically REBALANCE_IN_PROGRESS: the messages will be redelivered to whoever owns the partition.
            this.options.onError?.(error, { topic, partition, commit: true });
          }
        }
        if (handled < messages.length) {
          this.backOff(key, topic, partition, pause, undefined);
          return;
        }
        this.failures.delete(key);
        await heartbeat();
      },
    });
  }

  async stop(): Promise<void> {
    for (const timer of this.resumeTimers) clearTimeout(timer);
    this.resumeTimers.clear();
    await this.consumer.disconnect();
  }

  private backOff(
    key: string,
    topic: string,
    partition: number,
    pause: () => () => void,
    error: unknown,
  ): void {
    const attempt = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, attempt);
    const retryInMs = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** (attempt - 1));
    const resume = pause();
    const timer = setTimeout(() => {
      this.resumeTimers.delete(timer);
      resume();
    }, retryInMs);
    this.resumeTimers.add(timer);
    if (error !== undefined) this.options.onError?.(error, { topic, partition, attempt, retryInMs });
  }
}
