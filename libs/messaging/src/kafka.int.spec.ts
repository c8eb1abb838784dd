/**
 * libs/messaging against a Kafka-protocol broker: the shared local broker (KAFKA_BROKERS, from
 * scripts/local-stack.sh) with unique topic and group names, and a private mock for the broker-down case.
 */
import { Kafka, KafkaMessage, logLevel } from 'kafkajs';
import { startKafkaMock, uniqueName, uniqueTopicName } from '@hes/testing';
import { BatchConsumer } from './batch-consumer';
import { computeConsumerLag } from './consumer-lag';
import { decodeEnvelope, TelegramEnvelope } from './envelope';
import { BrokerUnavailableError } from './errors';
import { partitionForGroup } from './partitioner';
import { TelegramProducer } from './telegram-producer';
import { ensureTopics } from './topics';

jest.setTimeout(120_000);

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const consumerTimings = { sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 100 };
const T0 = Date.UTC(2026, 10, 24, 8);

const kafkaFor = (list: string[]) =>
  new Kafka({
    clientId: 'hes-messaging-test',
    brokers: list,
    logLevel: logLevel.NOTHING,
    retry: { retries: 3 },
  });

const envelope = (meterId: string, group: string, seq: number): TelegramEnvelope => ({
  sourceKind: 'gateway',
  sourceId: 'gw-test',
  receivedAt: T0 + seq,
  telegram: Buffer.from([0x1e, 0x44, 0x2d, 0x2c, seq & 0xff, (seq >> 8) & 0xff]),
  meterId,
  manufacturer: 'KAM',
  meterGroup: group,
});

async function waitUntil(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('messaging against the local Kafka broker', () => {
  const kafka = kafkaFor(brokers);
  const admin = kafka.admin();

  beforeAll(() => admin.connect());
  afterAll(() => admin.disconnect());

  it('creates topics through the admin API and tolerates existing ones', async () => {
    const raw = uniqueTopicName('raw');
    const dead = uniqueTopicName('dead');
    const specs = [
      { topic: raw, numPartitions: 4, replicationFactor: 1 },
      { topic: dead, numPartitions: 2, replicationFactor: 1 },
    ];
    expect(await ensureTopics(admin, specs)).toEqual({
      created: [raw, dead],
      existing: [],
      partitionMismatches: [],
    });
    const metadata = await admin.fetchTopicMetadata({ topics: [raw, dead] });
    const partitionCounts = Object.fromEntries(metadata.topics.map((t) => [t.name, t.partitions.length]));
    expect(partitionCounts).toEqual({ [raw]: 4, [dead]: 2 });
    const again = await ensureTopics(admin, [specs[0], { ...specs[1], numPartitions: 3 }]);
    expect(again).toEqual({
      created: [],
      existing: [raw, dead],
      partitionMismatches: [{ topic: dead, expected: 3, actual: 2 }],
    });
  });

  it('produces durably and keeps every meter group on its partition, in order', async () => {
    const topic = uniqueTopicName('order');
    await ensureTopics(admin, [{ topic, numPartitions: 4, replicationFactor: 1 }]);
    const producer = new TelegramProducer(kafka, { topic });
    await producer.connect();
    const groups = Array.from({ length: 8 }, (_, i) => `society-${i}`);
    const sent: TelegramEnvelope[] = [];
    let seq = 0;
    // Several concurrent calls, as from parallel HTTP requests: they are merged but each resolves on its ack.
    for (let round = 0; round < 5; round++) {
      const calls = groups.map((group, g) => {
        const batch = [0, 1, 2].map((m) => envelope(`${g}${m}`.padStart(8, '0'), group, seq++));
        sent.push(...batch);
        return producer.send(batch);
      });
      await Promise.all(calls);
    }
    await producer.disconnect();

    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets.reduce((sum, p) => sum + Number(p.high), 0)).toBe(sent.length);

    const received: { partition: number; envelope: TelegramEnvelope }[] = [];
    const consumer = kafka.consumer({ groupId: uniqueName('order'), ...consumerTimings });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        received.push({ partition, envelope: decodeEnvelope(message.value!) });
      },
    });
    await waitUntil('all messages consumed', () => received.length === sent.length);
    await consumer.disconnect();

    for (const { partition, envelope: e } of received) {
      expect(partition).toBe(partitionForGroup(e.meterGroup, 4));
    }
    expect(new Set(received.map((r) => r.partition)).size).toBeGreaterThan(1);
    const byMeter = new Map<string, number[]>();
    for (const { envelope: e } of received)
      byMeter.set(e.meterId, [...(byMeter.get(e.meterId) ?? []), e.receivedAt]);
    for (const times of byMeter.values()) expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(received.find((r) => r.envelope.receivedAt === T0 + 7)?.envelope.telegram).toEqual(
      sent[7].telegram,
    );
  });

  it('commits only what the handler made durable, reports lag, and resumes there after a restart', async () => {
    const topic = uniqueTopicName('commit');
    const groupId = uniqueName('commit');
    await ensureTopics(admin, [{ topic, numPartitions: 1, replicationFactor: 1 }]);
    const producer = new TelegramProducer(kafka, { topic });
    await producer.connect();
    await producer.send(Array.from({ length: 10 }, (_, i) => envelope('00000001', 'g', i)));
    await producer.disconnect();

    const durable: string[] = [];
    let failedOnce = false;
    const errors: unknown[] = [];
    const first = new BatchConsumer(kafka.consumer({ groupId, ...consumerTimings }), {
      topics: [topic],
      fromBeginning: true,
      initialBackoffMs: 100,
      onError: (error) => errors.push(error),
    });
    await first.start(async ({ messages }) => {
      if (!failedOnce) {
        failedOnce = true;
        throw new Error('database unavailable');
      }
      // Make at most 6 messages durable in total, then report the rest as not handled.
      const take = Math.max(0, Math.min(messages.length, 6 - durable.length));
      durable.push(...messages.slice(0, take).map((m) => m.offset));
      return take;
    });
    await waitUntil('six durable messages', () => durable.length === 6);
    // The failing first attempt was redelivered from the start, not skipped.
    expect(durable).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(errors).toHaveLength(1);
    await first.stop();

    const lag = await computeConsumerLag(admin, groupId, [topic]);
    expect(lag.total).toBe(4);
    expect(lag.partitions).toEqual([
      {
        topic,
        partition: 0,
        committedOffset: '6',
        lowWatermark: '0',
        highWatermark: '10',
        lag: 4,
        lostToRetention: 0,
      },
    ]);

    const resumed: KafkaMessage[] = [];
    const second = new BatchConsumer(kafka.consumer({ groupId, ...consumerTimings }), { topics: [topic] });
    await second.start(async ({ messages }) => {
      resumed.push(...messages);
    });
    await waitUntil('the uncommitted messages', () => resumed.length >= 4);
    await second.stop();
    expect(resumed.map((m) => m.offset)).toEqual(['6', '7', '8', '9']);
    expect(decodeEnvelope(resumed[0].value!).receivedAt).toBe(T0 + 6);
    expect((await computeConsumerLag(admin, groupId, [topic])).total).toBe(0);
  });

  it('hands the partition batches of one fetch to a merged handler together and commits them all', async () => {
    const topic = uniqueTopicName('merged');
    const groupId = uniqueName('merged');
    await ensureTopics(admin, [{ topic, numPartitions: 4, replicationFactor: 1 }]);
    const producer = new TelegramProducer(kafka, { topic });
    await producer.connect();
    const groups = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    await producer.send(groups.flatMap((group, g) => [0, 1, 2].map((i) => envelope('1', group, g * 3 + i))));
    await producer.disconnect();
    const partitionsUsed = new Set(groups.map((group) => partitionForGroup(group, 4))).size;

    const units: Array<Array<{ partition: number; offsets: string[] }>> = [];
    let failedOnce = false;
    const consumer = new BatchConsumer(kafka.consumer({ groupId, ...consumerTimings }), {
      topics: [topic],
      fromBeginning: true,
      partitionsConsumedConcurrently: 8,
      initialBackoffMs: 100,
    });
    await consumer.startMerged(async (batches) => {
      if (!failedOnce) {
        failedOnce = true;
        throw new Error('database unavailable');
      }
      units.push(batches.map((b) => ({ partition: b.partition, offsets: b.messages.map((m) => m.offset) })));
    });
    const handled = () => units.flat().reduce((sum, b) => sum + b.offsets.length, 0);
    await waitUntil('every message handled', () => handled() >= 24);
    await consumer.stop();
    // The first unit failed and was redelivered whole; then one unit carried every partition of the fetch.
    expect(handled()).toBe(24);
    expect(units[0]).toHaveLength(partitionsUsed);
    expect((await computeConsumerLag(admin, groupId, [topic])).total).toBe(0);
  });

  it('counts lag from the log start for a group that never committed', async () => {
    const topic = uniqueTopicName('lag');
    await ensureTopics(admin, [{ topic, numPartitions: 2, replicationFactor: 1 }]);
    const producer = new TelegramProducer(kafka, { topic });
    await producer.connect();
    await producer.send([envelope('1', 'a', 1), envelope('2', 'a', 2), envelope('3', 'b', 3)]);
    await producer.disconnect();
    const lag = await computeConsumerLag(admin, uniqueName('never'), [topic]);
    expect(lag.total).toBe(3);
    expect(lag.partitions.every((p) => p.committedOffset === null)).toBe(true);
  });
});

describe('TelegramProducer when the broker goes away', () => {
  it('fails with BrokerUnavailableError instead of hanging', async () => {
    const mock = await startKafkaMock();
    const kafka = kafkaFor(mock.brokers);
    const admin = kafka.admin();
    const topic = uniqueTopicName('down');
    const producer = new TelegramProducer(kafka, { topic, sendTimeoutMs: 5000, retries: 2 });
    try {
      await admin.connect();
      await ensureTopics(admin, [{ topic, numPartitions: 1, replicationFactor: 1 }]);
      await admin.disconnect();
      await producer.connect();
      await producer.send([envelope('00000001', 'g', 1)]);
      await mock.stop();
      const started = Date.now();
      await expect(producer.send([envelope('00000001', 'g', 2)])).rejects.toBeInstanceOf(
        BrokerUnavailableError,
      );
      expect(Date.now() - started).toBeLessThan(6000);
      await expect(producer.send([envelope('00000001', 'g', 3)])).rejects.toBeInstanceOf(
        BrokerUnavailableError,
      );
    } finally {
      await producer.disconnect().catch(() => undefined);
      await mock.stop();
    }
  });

  it('reports an unreachable broker at connect as BrokerUnavailableError', async () => {
    const mock = await startKafkaMock();
    const list = mock.brokers;
    await mock.stop();
    const producer = new TelegramProducer(kafkaFor(list), { topic: 'unused' });
    await expect(producer.connect()).rejects.toBeInstanceOf(BrokerUnavailableError);
  });
});
