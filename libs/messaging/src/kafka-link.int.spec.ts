/**
 * KafkaLink against a Kafka-protocol broker that is not there at first: the link keeps retrying in the
 * background (not connected, probe fails, a bounded wait gives up), and once the broker comes up it creates
 * the missing topic, connects the producer and answers the probe; stop disconnects both clients.
 */
import { Kafka, logLevel } from 'kafkajs';
import pino from 'pino';
import { findFreePortRange, startKafkaMock, uniqueTopicName, type KafkaMockProcess } from '@hes/testing';
import { KafkaLink, type LinkedProducer } from './kafka-link';

jest.setTimeout(60_000);

describe('KafkaLink', () => {
  let broker: KafkaMockProcess | undefined;

  afterAll(async () => {
    await broker?.stop();
  });

  it('connects in the background once the broker comes up, creating the missing topic', async () => {
    const port = await findFreePortRange(1);
    const kafka = new Kafka({
      clientId: 'hes-kafka-link-test',
      brokers: [`127.0.0.1:${port}`],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 300,
      retry: { retries: 0 },
    });
    const producer = kafka.producer();
    const calls: string[] = [];
    const linked: LinkedProducer = {
      connect: async () => {
        await producer.connect();
        calls.push('connect');
      },
      disconnect: async () => {
        await producer.disconnect();
        calls.push('disconnect');
      },
    };
    const topic = uniqueTopicName('kafka-link');
    const link = new KafkaLink({
      admin: kafka.admin(),
      producer: linked,
      topics: [{ topic, numPartitions: 2, replicationFactor: 1 }],
      logger: pino({ level: 'silent' }),
      connectedMessage: 'connected',
      unavailableMessage: 'unavailable',
    });

    expect(await link.connectWithin(300)).toBe(false);
    expect(link.connected).toBe(false);
    await expect(link.probe()).rejects.toThrow(/not connected/);

    broker = await startKafkaMock({ port });
    await link.ready;
    expect(await link.connectWithin(0)).toBe(true);
    await link.probe();
    expect(calls).toEqual(['connect']);

    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    expect(offsets).toHaveLength(2);

    await link.stop();
    expect(calls).toEqual(['connect', 'disconnect']);
  });
});
