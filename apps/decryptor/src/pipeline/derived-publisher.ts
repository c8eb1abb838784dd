import type { Kafka, Message, Producer, TopicMessages } from 'kafkajs';
import {
  DeadLetterMessage,
  EventMessage,
  METER_GROUP_HEADER,
  MeterGroupPartitioner,
  ReadingsMessage,
  encodeDeadLetter,
  encodeEvent,
  encodeReadings,
  toBrokerError,
} from '@hes/messaging';

export interface DerivedTopics {
  readings: string;
  events: string;
  deadLetters: string;
}

export interface DerivedMessages {
  readings: ReadingsMessage[];
  events: EventMessage[];
  deadLetters: Array<{ message: DeadLetterMessage; meterGroup?: string }>;
}

/**
 * Produces what a batch yields to the readings, events and dead-letter topics in one request, acknowledged
 * by all in-sync replicas, partitioned by meter group like the raw topic (so a meter's readings and events
 * stay in order). Idempotent producer: kafkajs' own retries do not duplicate; a batch redelivered after a
 * crash does (at-least-once on these topics; consumers key on meter+ts).
 */
export class DerivedPublisher {
  private readonly producer: Producer;

  constructor(
    kafka: Kafka,
    private readonly topics: DerivedTopics,
    private readonly ackTimeoutMs = 5000,
  ) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: MeterGroupPartitioner,
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
    });
  }

  async connect(): Promise<void> {
    try {
      await this.producer.connect();
    } catch (error) {
      throw toBrokerError(error, 'connect the derived-topics producer');
    }
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }

  async publish(messages: DerivedMessages): Promise<void> {
    const topicMessages: TopicMessages[] = [];
    if (messages.readings.length > 0) {
      topicMessages.push({
        topic: this.topics.readings,
        messages: messages.readings.map((m) => keyed(m.meterId, m.meterGroup, encodeReadings(m))),
      });
    }
    if (messages.events.length > 0) {
      topicMessages.push({
        topic: this.topics.events,
        messages: messages.events.map((m) => keyed(m.meterId, m.meterGroup, encodeEvent(m))),
      });
    }
    if (messages.deadLetters.length > 0) {
      topicMessages.push({
        topic: this.topics.deadLetters,
        messages: messages.deadLetters.map(({ message, meterGroup }) =>
          keyed(message.meterId ?? '', meterGroup, encodeDeadLetter(message)),
        ),
      });
    }
    if (topicMessages.length === 0) return;
    try {
      await this.producer.sendBatch({ topicMessages, acks: -1, timeout: this.ackTimeoutMs });
    } catch (error) {
      throw toBrokerError(error, 'produce readings, events and dead letters');
    }
  }
}

function keyed(meterId: string, meterGroup: string | undefined, value: Buffer): Message {
  return meterGroup === undefined
    ? { key: meterId, value }
    : { key: meterId, value, headers: { [METER_GROUP_HEADER]: meterGroup } };
}
