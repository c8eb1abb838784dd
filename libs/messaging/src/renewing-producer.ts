import type { Kafka, Producer, ProducerRecord } from 'kafkajs';
import { toBrokerError } from './broker-errors';
import { MeterGroupPartitioner } from './partitioner';

/**
 * The kafkajs producer under TelegramProducer and CommandProducer: idempotent, one request in flight (which
 * with idempotence keeps per-partition order), partitioned by meter group, with bounded retries so that a dead
 * broker surfaces as an error instead of an endless wait.
 *
 * A request that exhausted its retries may or may not have been written; re-sending other messages under the
 * same idempotence sequence numbers could then be taken by the broker as duplicates and silently dropped, so
 * after such a failure the next request uses a new producer (new producer id, fresh sequence numbers).
 */
export class RenewingProducer {
  private producer: Producer;
  private renewBeforeNext = false;
  private connected = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly retries: number,
    /** Names the producer in connection errors, e.g. "command producer". */
    private readonly name: string,
  ) {
    this.producer = this.create();
  }

  private create(): Producer {
    return this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: MeterGroupPartitioner,
      retry: { retries: this.retries, initialRetryTime: 100, maxRetryTime: 1000 },
    });
  }

  async connect(): Promise<void> {
    try {
      await this.producer.connect();
      this.connected = true;
    } catch (error) {
      throw toBrokerError(error, `connect the ${this.name}`);
    }
  }

  async disconnect(): Promise<void> {
    this.connected = false;
    await this.producer.disconnect();
  }

  /** For a request given up on while it may still complete (a caller's timeout): the next one renews too. */
  renewBeforeNextRequest(): void {
    this.renewBeforeNext = true;
  }

  /** One produce request, on a new producer after a failed one and connecting first when not connected. */
  async send(record: ProducerRecord): Promise<void> {
    if (this.renewBeforeNext) {
      await this.producer.disconnect().catch(() => undefined);
      this.producer = this.create();
      this.connected = false;
      this.renewBeforeNext = false;
    }
    try {
      if (!this.connected) await this.connect();
      await this.producer.send(record);
    } catch (error) {
      this.renewBeforeNext = true;
      throw error;
    }
  }
}
