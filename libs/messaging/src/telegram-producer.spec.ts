import type { Kafka, ProducerRecord } from 'kafkajs';
import { KafkaJSConnectionError, KafkaJSProtocolError } from 'kafkajs';
import { TelegramEnvelope } from './envelope';
import { BrokerUnavailableError, MessageValidationError, ProducerOverloadedError } from './errors';
import { decodeEnvelope } from './envelope';
import { TelegramProducer } from './telegram-producer';

/**
 * Unit tests of the batching and error mapping around a scripted kafkajs producer. The behaviour against a
 * real broker is covered by telegram-producer.int.spec.ts.
 */
class ScriptedKafka {
  sends: ProducerRecord[] = [];
  producersCreated = 0;
  outcomes: (() => Promise<void>)[] = [];
  producer() {
    this.producersCreated += 1;
    return {
      connect: async () => undefined,
      disconnect: async () => undefined,
      send: async (record: ProducerRecord) => {
        this.sends.push(record);
        const outcome = this.outcomes.shift();
        if (outcome) await outcome();
        return [];
      },
    };
  }
}

const envelope = (i: number, group = 'g'): TelegramEnvelope => ({
  sourceKind: 'gateway',
  sourceId: 'gw',
  receivedAt: Date.UTC(2026, 0, 1) + i,
  telegram: Buffer.from([0x1e, 0x44, i & 0xff]),
  meterId: `0000000${i % 10}`,
  manufacturer: 'KAM',
  meterGroup: group,
});

function deferred() {
  let release!: () => void;
  const promise = new Promise<void>((r) => (release = r));
  return { promise, release };
}

describe('TelegramProducer', () => {
  it('sends with acks=-1, key = meter id and the group header, preserving the envelope', async () => {
    const kafka = new ScriptedKafka();
    const producer = new TelegramProducer(kafka as unknown as Kafka, { topic: 'raw' });
    await producer.send([envelope(1, 'tower-1')]);
    expect(kafka.sends).toHaveLength(1);
    expect(kafka.sends[0].acks).toBe(-1);
    const [message] = kafka.sends[0].messages;
    expect(message.key).toBe('00000001');
    expect(message.headers).toEqual({ 'hes-meter-group': 'tower-1' });
    expect(decodeEnvelope(message.value as Buffer).meterGroup).toBe('tower-1');
  });

  it('merges calls that arrive while a request is in flight into one request, and resolves each on ack', async () => {
    const kafka = new ScriptedKafka();
    const gate = deferred();
    kafka.outcomes.push(() => gate.promise);
    const producer = new TelegramProducer(kafka as unknown as Kafka, { topic: 'raw' });
    const first = producer.send([envelope(1)]);
    await new Promise((r) => setImmediate(r));
    let laterResolved = 0;
    const later = [1, 2, 3].map((i) =>
      producer.send([envelope(i), envelope(i + 10)]).then(() => laterResolved++),
    );
    await new Promise((r) => setImmediate(r));
    expect(kafka.sends).toHaveLength(1);
    expect(producer.pending).toBe(7);
    gate.release();
    await first;
    await Promise.all(later);
    expect(laterResolved).toBe(3);
    expect(kafka.sends).toHaveLength(2);
    expect(kafka.sends[1].messages).toHaveLength(6);
    expect(producer.pending).toBe(0);
  });

  it('rejects invalid envelopes before sending anything', () => {
    const kafka = new ScriptedKafka();
    const producer = new TelegramProducer(kafka as unknown as Kafka, { topic: 'raw' });
    expect(() => producer.send([envelope(1), { ...envelope(2), meterId: '' }])).toThrow(
      MessageValidationError,
    );
    expect(kafka.sends).toHaveLength(0);
  });

  it('maps connection failures to BrokerUnavailableError, fails fast while probing, then uses a new producer', async () => {
    const kafka = new ScriptedKafka();
    const gate = deferred();
    kafka.outcomes.push(async () => {
      throw new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
    });
    kafka.outcomes.push(async () => {
      await gate.promise;
      throw new KafkaJSConnectionError('still down');
    });
    const producer = new TelegramProducer(kafka as unknown as Kafka, { topic: 'raw' });
    await expect(producer.send([envelope(1)])).rejects.toBeInstanceOf(BrokerUnavailableError);
    const probe = producer.send([envelope(2)]);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    await expect(producer.send([envelope(3)])).rejects.toThrow('previous produce request failed');
    gate.release();
    await expect(probe).rejects.toBeInstanceOf(BrokerUnavailableError);
    await producer.send([envelope(4)]);
    expect(kafka.producersCreated).toBe(3);
  });

  it('does not map request errors that are not about availability', async () => {
    const kafka = new ScriptedKafka();
    kafka.outcomes.push(async () => {
      throw new KafkaJSProtocolError('MESSAGE_TOO_LARGE');
    });
    const producer = new TelegramProducer(kafka as unknown as Kafka, { topic: 'raw' });
    const error = await producer.send([envelope(1)]).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(BrokerUnavailableError);
  });

  it('bounds pending messages (429 case) and times out unacknowledged sends (503 case)', async () => {
    const kafka = new ScriptedKafka();
    kafka.outcomes.push(() => new Promise(() => undefined));
    const producer = new TelegramProducer(kafka as unknown as Kafka, {
      topic: 'raw',
      maxPendingMessages: 3,
      sendTimeoutMs: 50,
    });
    const stuck = producer.send([envelope(1), envelope(2)]);
    await expect(producer.send([envelope(3), envelope(4)])).rejects.toBeInstanceOf(ProducerOverloadedError);
    await expect(stuck).rejects.toThrow('Kafka did not acknowledge within 50 ms');
  });
});
