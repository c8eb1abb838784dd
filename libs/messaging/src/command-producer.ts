import type { Kafka } from 'kafkajs';
import { toBrokerError } from './broker-errors';
import { BrokerUnavailableError } from './errors';
import { encodeCommand, type CommandMessage } from './messages';
import { METER_GROUP_HEADER } from './partitioner';
import { RenewingProducer } from './renewing-producer';

export interface CommandProducerOptions {
  topic: string;
  /** A `send` not acknowledged within this time fails with BrokerUnavailableError. Default 10 s. */
  sendTimeoutMs?: number;
  /** Broker-side wait for the in-sync replicas' acknowledgement. Default 5 s. */
  ackTimeoutMs?: number;
  /** Attempts kafkajs makes per produce request before it fails. Default 3. */
  retries?: number;
}

/**
 * Produces command messages to the commands topic, one at a time, with acks = all in-sync replicas on an
 * idempotent producer, keyed by the target and partitioned by meter group with the telegrams' partitioner, so
 * commands for a meter stay in order and land on the partition its group maps to.
 *
 * Commands are rare and each caller waits for its own acknowledgement, so there is no batching: a send
 * resolves only once the broker acknowledged it, and one that fails must be treated as not sent (it may still
 * have been written: a consumer must tolerate a repeated commandId). After a failed or timed-out request the
 * next send uses a new producer (see RenewingProducer).
 */
export class CommandProducer {
  private readonly producer: RenewingProducer;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly topic: string;
  private readonly sendTimeoutMs: number;
  private readonly ackTimeoutMs: number;

  constructor(kafka: Kafka, options: CommandProducerOptions) {
    this.topic = options.topic;
    this.sendTimeoutMs = options.sendTimeoutMs ?? 10_000;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5_000;
    this.producer = new RenewingProducer(kafka, options.retries ?? 3, 'command producer');
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }

  /**
   * Resolves once the command is acknowledged by all in-sync replicas. Throws MessageValidationError for an
   * invalid command (nothing sent) and BrokerUnavailableError when the cluster is down or too slow.
   */
  send(command: CommandMessage, meterGroup: string): Promise<void> {
    const value = encodeCommand(command);
    const sent = this.queue.then(() => this.produce(command, meterGroup, value));
    this.queue = sent.catch(() => undefined);
    return sent;
  }

  private async produce(command: CommandMessage, meterGroup: string, value: Buffer): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new BrokerUnavailableError(`Kafka did not acknowledge within ${this.sendTimeoutMs} ms`)),
        this.sendTimeoutMs,
      );
    });
    try {
      await Promise.race([this.request(command, meterGroup, value), timeout]);
    } catch (error) {
      this.producer.renewBeforeNextRequest();
      throw toBrokerError(error, `produce to ${this.topic}`);
    } finally {
      clearTimeout(timer);
    }
  }

  private request(command: CommandMessage, meterGroup: string, value: Buffer): Promise<void> {
    return this.producer.send({
      topic: this.topic,
      acks: -1,
      timeout: this.ackTimeoutMs,
      messages: [
        {
          key: command.target ?? command.commandId,
          value,
          headers: { [METER_GROUP_HEADER]: meterGroup },
        },
      ],
    });
  }
}
