import type { CompressionTypes, Kafka, Message } from 'kafkajs';
import { toBrokerError } from './broker-errors';
import { encodeEnvelope, TelegramEnvelope } from './envelope';
import { BrokerUnavailableError, ProducerOverloadedError } from './errors';
import { METER_GROUP_HEADER } from './partitioner';
import { RenewingProducer } from './renewing-producer';

export interface TelegramProducerOptions {
  topic: string;
  /** Most messages in one produce request; more waiting callers are sent in the next request. Default 2000. */
  maxBatchMessages?: number;
  /** Bound on messages accepted but not yet acknowledged (memory and latency bound). Default 50,000. */
  maxPendingMessages?: number;
  /** A `send` not acknowledged within this time fails with BrokerUnavailableError. Default 10 s. */
  sendTimeoutMs?: number;
  /** Broker-side wait for the in-sync replicas' acknowledgement per request. Default 5 s. */
  ackTimeoutMs?: number;
  compression?: CompressionTypes;
  /** Attempts kafkajs makes per produce request before the request fails. Default 5. */
  retries?: number;
}

interface PendingSend {
  messages: Message[];
  resolve: () => void;
  reject: (error: unknown) => void;
  settled: boolean;
  timer: NodeJS.Timeout;
}

/**
 * Produces telegram envelopes to the raw topic with acks = all in-sync replicas on an idempotent producer,
 * partitioned by meter group.
 *
 * Batching ("group commit"): concurrent `send` calls are merged into one produce request while the previous
 * request is in flight, so throughput grows with load while each caller's promise still resolves only once
 * its own messages are acknowledged by all in-sync replicas. Only one request is in flight at a time, which
 * together with idempotence keeps per-partition order.
 *
 * Failure semantics: a call that fails (broker down, timeout) must be treated as not written; it may in
 * fact have been written (a timed-out request can still complete), so a retry can duplicate telegrams in
 * Kafka — the decryptor's idempotent storage absorbs that (at-least-once end to end).
 */
export class TelegramProducer {
  private readonly producer: RenewingProducer;
  private readonly topic: string;
  private readonly maxBatchMessages: number;
  private readonly maxPendingMessages: number;
  private readonly sendTimeoutMs: number;
  private readonly ackTimeoutMs: number;
  private readonly compression: CompressionTypes | undefined;
  private readonly queue: PendingSend[] = [];
  private pendingMessages = 0;
  private flushing = false;
  private flushScheduled = false;
  private lastRequestFailed = false;

  constructor(kafka: Kafka, options: TelegramProducerOptions) {
    this.topic = options.topic;
    this.maxBatchMessages = options.maxBatchMessages ?? 2000;
    this.maxPendingMessages = options.maxPendingMessages ?? 50_000;
    this.sendTimeoutMs = options.sendTimeoutMs ?? 10_000;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5_000;
    this.compression = options.compression;
    this.producer = new RenewingProducer(kafka, options.retries ?? 5, 'telegram producer');
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }

  /** Messages accepted by `send` and not yet acknowledged or failed. */
  get pending(): number {
    return this.pendingMessages;
  }

  /**
   * Resolves when every envelope is durably acknowledged. Throws MessageValidationError (synchronously
   * encoded, nothing sent) for an invalid envelope, ProducerOverloadedError when the pending bound is
   * reached while the broker is healthy, BrokerUnavailableError when it is down or too slow.
   */
  send(envelopes: TelegramEnvelope[]): Promise<void> {
    if (envelopes.length === 0) return Promise.resolve();
    const messages = envelopes.map((envelope): Message => ({
      key: envelope.meterId,
      value: encodeEnvelope(envelope),
      headers: { [METER_GROUP_HEADER]: envelope.meterGroup },
    }));
    if (this.lastRequestFailed && this.flushing) {
      // A request is already probing a broker that just failed: answer at once rather than queue behind it.
      return Promise.reject(
        new BrokerUnavailableError('Kafka unavailable: the previous produce request failed'),
      );
    }
    if (this.pendingMessages + messages.length > this.maxPendingMessages) {
      return Promise.reject(
        this.lastRequestFailed
          ? new BrokerUnavailableError(
              'Kafka unavailable: the previous produce request failed and the queue is full',
            )
          : new ProducerOverloadedError(this.pendingMessages),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const pendingSend: PendingSend = {
        messages,
        resolve,
        reject,
        settled: false,
        timer: setTimeout(() => this.expire(pendingSend), this.sendTimeoutMs),
      };
      this.queue.push(pendingSend);
      this.pendingMessages += messages.length;
      this.scheduleFlush();
    });
  }

  private expire(pendingSend: PendingSend): void {
    const queued = this.queue.indexOf(pendingSend);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.pendingMessages -= pendingSend.messages.length;
    }
    this.settle(
      pendingSend,
      new BrokerUnavailableError(`Kafka did not acknowledge within ${this.sendTimeoutMs} ms`),
    );
  }

  private settle(pendingSend: PendingSend, error?: unknown): void {
    if (pendingSend.settled) return;
    pendingSend.settled = true;
    clearTimeout(pendingSend.timer);
    if (error === undefined) pendingSend.resolve();
    else pendingSend.reject(error);
  }

  private scheduleFlush(): void {
    if (this.flushing || this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing || this.queue.length === 0) return;
    this.flushing = true;
    const batch: PendingSend[] = [];
    let count = 0;
    while (
      this.queue.length > 0 &&
      (count === 0 || count + this.queue[0].messages.length <= this.maxBatchMessages)
    ) {
      const next = this.queue.shift()!;
      batch.push(next);
      count += next.messages.length;
    }
    try {
      await this.producer.send({
        topic: this.topic,
        acks: -1,
        timeout: this.ackTimeoutMs,
        compression: this.compression,
        messages: batch.length === 1 ? batch[0].messages : batch.flatMap((p) => p.messages),
      });
      this.lastRequestFailed = false;
      for (const pendingSend of batch) this.settle(pendingSend);
    } catch (error) {
      const mapped = toBrokerError(error, `produce to ${this.topic}`);
      this.lastRequestFailed = mapped instanceof BrokerUnavailableError;
      for (const pendingSend of batch) this.settle(pendingSend, mapped);
    } finally {
      this.pendingMessages -= count;
      this.flushing = false;
      if (this.queue.length > 0) this.scheduleFlush();
    }
  }
}
