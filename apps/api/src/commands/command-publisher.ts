import {
  BrokerUnavailableError,
  CommandProducer,
  KafkaLink,
  type CommandMessage,
  type TopicSpec,
} from '@hes/messaging';
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';

/** Where the API hands meter commands: resolves once the broker durably acknowledged the command. */
export interface MeterCommandSink {
  publish(command: CommandMessage, meterGroup: string): Promise<void>;
}

/**
 * The API's link to Kafka for commands: creates the commands topic when it is missing and connects the
 * command producer in the background (KafkaLink), so an API started while the brokers are down still serves
 * reads and answers commands with 503 until Kafka is back (its /health reports Kafka down).
 * `start()` is called at start-up; a publish before that starts the connection itself.
 */
export class KafkaCommandPublisher implements MeterCommandSink {
  private readonly producer: CommandProducer;
  private readonly link: KafkaLink;
  /** Resolves once the topic exists and the producer is connected. */
  readonly ready: Promise<void>;

  constructor(
    kafka: Kafka,
    private readonly topic: TopicSpec,
    logger: Logger,
    /** How long a publish waits for a connection still being made before it fails as unavailable. */
    private readonly connectWaitMs = 5_000,
  ) {
    this.producer = new CommandProducer(kafka, { topic: topic.topic });
    this.link = new KafkaLink({
      admin: kafka.admin(),
      producer: this.producer,
      topics: [topic],
      logger,
      connectedMessage: 'connected to Kafka for commands',
      unavailableMessage: 'Kafka unavailable; meter commands answer 503 until it is reachable',
    });
    this.ready = this.link.ready;
  }

  start(): void {
    this.link.start();
  }

  async publish(command: CommandMessage, meterGroup: string): Promise<void> {
    if (!(await this.link.connectWithin(this.connectWaitMs))) {
      throw new BrokerUnavailableError(`Kafka unavailable: commands topic ${this.topic.topic} not reachable`);
    }
    await this.producer.send(command, meterGroup);
  }

  /** Health probe: connected since start-up and the cluster answers a metadata request. */
  probe(): Promise<void> {
    return this.link.probe();
  }

  stop(): Promise<void> {
    return this.link.stop();
  }
}
