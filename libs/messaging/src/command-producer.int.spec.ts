/**
 * CommandProducer against Kafka-protocol brokers: commands land on their meter group's partition (seen in the
 * partitions' offsets), invalid commands are refused before sending, and a broker that goes away fails the send
 * with BrokerUnavailableError in bounded time; once a broker answers again the next send goes through.
 */
import { Kafka, logLevel } from 'kafkajs';
import { startKafkaMock, uniqueTopicName } from '@hes/testing';
import { CommandProducer } from './command-producer';
import { BrokerUnavailableError, MessageValidationError } from './errors';
import { MESSAGE_VERSION, type CommandMessage } from './messages';
import { partitionForGroup } from './partitioner';
import { ensureTopics } from './topics';

jest.setTimeout(60_000);

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const kafkaFor = (list: string[]) =>
  new Kafka({
    clientId: 'hes-command-test',
    brokers: list,
    logLevel: logLevel.NOTHING,
    retry: { retries: 2 },
  });

let sequence = 0;
const command = (target: string): CommandMessage => ({
  v: MESSAGE_VERSION,
  commandId: `command-${++sequence}`,
  kind: 'read_request',
  issuedAt: Date.UTC(2026, 10, 24, 12),
  target,
  params: {},
});

async function offsets(kafka: Kafka, topic: string): Promise<number[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const result = await admin.fetchTopicOffsets(topic);
    return result.sort((a, b) => a.partition - b.partition).map((p) => Number(p.high));
  } finally {
    await admin.disconnect();
  }
}

describe('CommandProducer', () => {
  it("puts each command on its meter group's partition, and refuses invalid ones unsent", async () => {
    const kafka = kafkaFor(brokers);
    const topic = uniqueTopicName('commands');
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [{ topic, numPartitions: 4, replicationFactor: 1 }]);
    await admin.disconnect();
    const producer = new CommandProducer(kafka, { topic });
    try {
      await producer.connect();
      await producer.send(command('12345678'), 'tower-a');
      await producer.send(command('12345678'), 'tower-a');
      await producer.send(command('87654321'), 'tower-b7');
      const expected = [0, 0, 0, 0];
      expected[partitionForGroup('tower-a', 4)] += 2;
      expected[partitionForGroup('tower-b7', 4)] += 1;
      expect(await offsets(kafka, topic)).toEqual(expected);

      expect(() => producer.send({ ...command('12345678'), commandId: '' }, 'tower-a')).toThrow(
        MessageValidationError,
      );
      expect(await offsets(kafka, topic)).toEqual(expected);
    } finally {
      await producer.disconnect();
    }
  });

  it('fails with BrokerUnavailableError when the broker goes away, and recovers when it is back', async () => {
    const first = await startKafkaMock();
    const port = Number(first.brokers[0].split(':')[1]);
    const kafka = kafkaFor(first.brokers);
    const topic = uniqueTopicName('commands_down');
    const createTopic = async () => {
      const admin = kafka.admin();
      await admin.connect();
      await ensureTopics(admin, [{ topic, numPartitions: 1, replicationFactor: 1 }]);
      await admin.disconnect();
    };
    const producer = new CommandProducer(kafka, { topic, sendTimeoutMs: 4000, retries: 1 });
    let second: Awaited<ReturnType<typeof startKafkaMock>> | undefined;
    try {
      await createTopic();
      await producer.connect();
      await producer.send(command('12345678'), 'g');
      await first.stop();
      const started = Date.now();
      await expect(producer.send(command('12345678'), 'g')).rejects.toBeInstanceOf(BrokerUnavailableError);
      expect(Date.now() - started).toBeLessThan(5000);

      // A restarted mock is an empty cluster on the same port: the topic is created again, then sends work.
      second = await startKafkaMock({ port });
      await createTopic();
      await producer.send(command('12345678'), 'g');
      expect(await offsets(kafka, topic)).toEqual([1]);
    } finally {
      await producer.disconnect().catch(() => undefined);
      await first.stop();
      await second?.stop();
    }
  });
});
