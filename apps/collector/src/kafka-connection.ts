import { BrokerUnavailableError, KafkaLink, type TelegramProducer, type TopicSpec } from '@hes/messaging';
import type { Admin } from 'kafkajs';
import type { Logger } from 'pino';
import type { EnvelopeSink } from './ingest/pipeline';

/**
 * The collector's link to Kafka: connects the admin client and the raw-topic producer and creates the
 * topics that are missing (KafkaLink). When the cluster is unreachable at start-up the collector still
 * starts — it answers ingest with 503 + Retry-After and reports Kafka down on /health — and keeps retrying
 * with back-off, so a collector started before (or during an outage of) the brokers recovers by itself.
 */
export class KafkaConnection {
  private readonly link: KafkaLink;
  /** Resolves once the topics exist and the producer is connected. */
  readonly ready: Promise<void>;

  constructor(
    admin: Admin,
    private readonly producer: TelegramProducer,
    topics: TopicSpec[],
    logger: Logger,
  ) {
    this.link = new KafkaLink({
      admin,
      producer,
      topics,
      logger,
      connectedMessage: 'connected to Kafka',
      unavailableMessage: 'Kafka unavailable at start-up; ingest answers 503 until it is reachable',
    });
    this.ready = this.link.ready;
  }

  /** Starts connecting in the background; `ready` tells when it succeeded. */
  start(): void {
    this.link.start();
  }

  /** Produces through the raw-topic producer once connected; before that, fails as the broker being down. */
  readonly sink: EnvelopeSink = {
    send: (envelopes) => {
      if (!this.link.connected) {
        return Promise.reject(
          new BrokerUnavailableError('Kafka not reachable since start-up: raw topic not verified yet'),
        );
      }
      return this.producer.send([...envelopes]);
    },
  };

  /** Health probe: the cluster answers a metadata request. */
  probe(): Promise<void> {
    return this.link.probe();
  }

  /** Ends the retry loop (waiting for an attempt in progress) and disconnects the admin and the producer. */
  stop(): Promise<void> {
    return this.link.stop();
  }
}
