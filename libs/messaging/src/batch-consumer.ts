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

/**
 * Processes the partition batches of one fetch together, as one unit of work (one storage transaction, one
 * cache write, one produce for all of them). Resolving means every message of every batch is durably
 * handled; throwing means none is, and all of them are redelivered after a back-off.
 */
export type MergedBatchHandler = (batches: ConsumedBatch[]) => Promise<void>;

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

  /**
   * Like `start`, but the batches kafkajs hands out together (the partitions of one fetch, up to
   * `partitionsConsumedConcurrently` of them) reach the handler in one call. kafkajs gives every worker its
   * batch in the same tick and fetches again only once all of them are done, so the batches are gathered
   * until the next turn of the event loop and then handled as one unit; offsets of all partitions are
   * committed in one request after the handler resolved.
   */
  async startMerged(handler: MergedBatchHandler): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: this.options.topics,
      fromBeginning: this.options.fromBeginning ?? false,
    });
    let gathering: PendingBatch[] = [];
    const handleGathered = () => {
      const unit = gathering;
      gathering = [];
      void this.handleUnit(unit, handler);
    };
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 1,
      eachBatch: async ({ batch, resolveOffset, heartbeat, pause, isRunning, isStale }) => {
        if (batch.isEmpty() || !isRunning() || isStale()) return;
        await new Promise<void>((resolve, reject) => {
          if (gathering.length === 0) setImmediate(handleGathered);
          gathering.push({
            batch: {
              topic: batch.topic,
              partition: batch.partition,
              messages: batch.messages,
              highWatermark: batch.highWatermark,
              heartbeat,
              isActive: () => isRunning() && !isStale(),
            },
            resolveOffset,
            pause,
            isStale,
            settle: (error) => (error === undefined ? resolve() : reject(error)),
          });
        });
      },
    });
  }

  /** Runs the handler over a gathered unit, then commits, or backs off every partition of the unit. */
  private async handleUnit(unit: PendingBatch[], handler: MergedBatchHandler): Promise<void> {
    try {
      await handler(unit.map((pending) => pending.batch));
    } catch (error) {
      // One report for the unit; every partition of it is paused and redelivered.
      unit.forEach((pending, i) => {
        const { topic, partition } = pending.batch;
        this.backOff(`${topic}/${partition}`, topic, partition, pending.pause, i === 0 ? error : undefined);
      });
      for (const pending of unit) pending.settle();
      return;
    }
    const commits: Array<{ topic: string; partition: number; offset: string }> = [];
    for (const pending of unit) {
      if (pending.isStale()) continue;
      const { topic, partition, messages } = pending.batch;
      const last = messages[messages.length - 1].offset;
      pending.resolveOffset(last);
      commits.push({ topic, partition, offset: (BigInt(last) + 1n).toString() });
      this.failures.delete(`${topic}/${partition}`);
    }
    if (commits.length > 0) {
      try {
        await this.consumer.commitOffsets(commits);
      } catch (error) {
        // Typically REBALANCE_IN_PROGRESS: the messages will be redelivered to whoever owns the partitions.
        for (const { topic, partition } of commits)
          this.options.onError?.(error, { topic, partition, commit: true });
      }
    }
    let heartbeatError: unknown;
    try {
      await unit[0].batch.heartbeat();
    } catch (error) {
      // kafkajs learns of a rebalance this way: handed back through the batches' eachBatch calls.
      heartbeatError = error;
    }
    for (const pending of unit) pending.settle(heartbeatError);
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

/** A batch kafkajs handed to eachBatch, waiting to be handled with the others of its fetch. */
interface PendingBatch {
  batch: ConsumedBatch;
  resolveOffset: (offset: string) => void;
  pause: () => () => void;
  isStale: () => boolean;
  /** Ends the batch's eachBatch call; an error is rethrown to kafkajs from it. */
  settle: (error?: unknown) => void;
}
