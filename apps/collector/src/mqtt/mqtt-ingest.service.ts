import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import {
  BrokerUnavailableError,
  ProducerOverloadedError,
  deadLetter,
  encodeDeadLetter,
  type DeadLetterMessage,
} from '@hes/messaging';
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import mqtt, { type MqttClient } from 'mqtt';
import { MeterRegistryUnavailableError } from '../ingest/meter-groups';
import { CollectorOverloadedError, IngestPipeline } from '../ingest/pipeline';
import { KAFKA_CLIENT, KAFKA_READY, MQTT_SETTINGS } from '../tokens';
import { gatewayIdFromTopic, itemsFromPayload } from './mqtt-topic';

export interface MqttIngestSettings {
  url: string;
  /** Topic pattern with a `+` where the gateway id is, e.g. hes/gw/+/telegrams. */
  topic: string;
  /** Collectors sharing this group split the messages ($share/<group>/...) instead of each getting all. */
  shareGroup: string;
  clientId: string;
  deadLetterTopic: string;
}

const RETRY_INITIAL_MS = 200;
const RETRY_MAX_MS = 10_000;

/**
 * Gateways publishing over MQTT (QoS 1). A message is acknowledged to Mosquitto only after its
 * telegrams are durably in Kafka and its invalid items are in the dead-letter topic; while Kafka is
 * down the message is retried with back-off and the next one is not read (mqtt.js delivers one
 * message at a time to `handleMessage`), so Mosquitto holds the backlog, not this process.
 * Throughput therefore comes from gateways packing many telegrams into one message (array payload).
 */
@Injectable()
export class MqttIngestService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('MqttIngest');
  private client?: MqttClient;
  private readonly deadLetters: Producer;
  private stopping = false;
  private starting?: Promise<void>;
  /** The message being handled (mqtt.js hands over one at a time); shutdown waits for it. */
  private current: Promise<void> = Promise.resolve();
  private markSubscribed!: () => void;
  /** Resolves once the subscription is in place (tests wait for it before publishing). */
  readonly subscribed = new Promise<void>((resolve) => (this.markSubscribed = resolve));

  constructor(
    @Inject(IngestPipeline) private readonly pipeline: IngestPipeline,
    @Inject(KAFKA_CLIENT) kafka: Kafka,
    @Inject(MQTT_SETTINGS) private readonly settings: MqttIngestSettings,
    @Inject(KAFKA_READY) private readonly kafkaReady: Promise<void>,
  ) {
    this.deadLetters = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Dead letters are keyed by source id; kafkajs's default (murmur2) partitioner spreads them.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /**
   * Does not block start-up: messages are only taken from Mosquitto once Kafka is reachable (until
   * then Mosquitto keeps them), and a broker that is down at start is reconnected to by mqtt.js.
   */
  onApplicationBootstrap(): void {
    this.starting = this.start().catch((error: unknown) => {
      this.logger.error(`MQTT ingest not started: ${(error as Error).message}`);
    });
  }

  private async start(): Promise<void> {
    await this.kafkaReady;
    if (this.stopping) return;
    await this.deadLetters.connect();
    if (this.stopping) return;
    const client = mqtt.connect(this.settings.url, {
      clientId: this.settings.clientId,
      clean: false,
      reconnectPeriod: 1000,
    });
    client.handleMessage = (packet, done) => {
      // Not acknowledged while stopping: Mosquitto redelivers it to this or another collector.
      if (this.stopping) return;
      this.current = this.handle(packet.topic, packet.payload as Buffer).then(
        () => done(),
        (error: unknown) => {
          if (this.stopping) return;
          this.logger.error(`MQTT message on ${packet.topic} dropped: ${(error as Error).message}`);
          done();
        },
      );
    };
    client.on('error', (error) => this.logger.warn(`MQTT: ${error.message}`));
    const subscription = `$share/${this.settings.shareGroup}/${this.settings.topic}`;
    // Subscribing again on every (re)connect is harmless and covers a session the broker dropped.
    client.on('connect', () => {
      client.subscribe(subscription, { qos: 1 }, (error) => {
        if (error) {
          this.logger.error(`MQTT subscribe to ${subscription} failed: ${error.message}`);
          return;
        }
        this.logger.log(`subscribed to ${subscription}`);
        this.markSubscribed();
      });
    });
    this.client = client;
  }

  /** Stops taking messages, lets the one in hand finish (or give up if Kafka is down), then disconnects. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.starting;
    await this.current;
    await this.client?.endAsync();
    await this.deadLetters.disconnect();
  }

  /** Resolves once the message is fully handled (stored or dead-lettered); retries while Kafka is unavailable. */
  async handle(topic: string, payload: Buffer): Promise<void> {
    const gatewayId = gatewayIdFromTopic(this.settings.topic, topic);
    if (!gatewayId) {
      await this.retrying(() =>
        this.sendDeadLetters([this.letter(topic, 'BAD_TOPIC', `no gateway id in topic ${topic}`, payload)]),
      );
      return;
    }
    const parsed = itemsFromPayload(payload);
    if (!parsed.ok) {
      await this.retrying(() =>
        this.sendDeadLetters([this.letter(gatewayId, 'BAD_PAYLOAD', parsed.message, payload)]),
      );
      return;
    }
    const results = await this.retrying(() =>
      this.pipeline.ingestItems(parsed.items, { kind: 'mqtt', id: gatewayId }),
    );
    const letters: DeadLetterMessage[] = [];
    for (const result of results) {
      if (result.status !== 'rejected' || !result.reason) continue;
      const item = parsed.items[result.index];
      const original =
        parsed.items.length === 1
          ? payload
          : Buffer.from(typeof item === 'string' ? item : JSON.stringify(item));
      letters.push(
        this.letter(gatewayId, result.reason.code, result.reason.message, original, result.reason.field),
      );
    }
    if (letters.length > 0) await this.retrying(() => this.sendDeadLetters(letters));
  }

  private letter(
    sourceId: string,
    code: string,
    message: string,
    original: Buffer,
    field?: string,
  ): DeadLetterMessage {
    return deadLetter({
      reasonCode: code,
      message,
      ...(field !== undefined ? { field } : {}),
      source: { kind: 'mqtt', id: sourceId },
      original,
    });
  }

  private async sendDeadLetters(letters: DeadLetterMessage[]): Promise<void> {
    await this.deadLetters.send({
      topic: this.settings.deadLetterTopic,
      acks: -1,
      messages: letters.map((letter) => ({ key: letter.source.id, value: encodeDeadLetter(letter) })),
    });
  }

  private async retrying<T>(operation: () => Promise<T>): Promise<T> {
    let delay = RETRY_INITIAL_MS;
    for (;;) {
      try {
        return await operation();
      } catch (error) {
        if (this.stopping || !isTransient(error)) throw error;
        this.logger.warn(`MQTT ingest: ${(error as Error).message}; retrying in ${delay} ms`);
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
  }
}

function isTransient(error: unknown): boolean {
  return (
    error instanceof BrokerUnavailableError ||
    error instanceof ProducerOverloadedError ||
    error instanceof CollectorOverloadedError ||
    error instanceof MeterRegistryUnavailableError ||
    (error instanceof Error && error.name.startsWith('KafkaJS'))
  );
}
