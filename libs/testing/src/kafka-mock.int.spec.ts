/**
 * The Kafka mock (patched librdkafka 2.0.2 behind scripts/kafka-mock/launcher.c) does what the product needs
 * from a Kafka cluster, with kafkajs: topics only through the admin API, idempotent produce, a consumer group
 * whose members live in separate processes, and committed offsets that a restarted member resumes from.
 * Each test starts its own mock on free ports so the shared broker of local-stack.sh is untouched.
 */
import { ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { Admin, ITopicConfig, Kafka, logLevel } from 'kafkajs';
import { KafkaMockProcess, startKafkaMock } from './kafka-mock';
import { uniqueName, uniqueTopicName } from './unique-names';

jest.setTimeout(120_000);

const memberScript = join(__dirname, 'fixtures/kafka-group-member.js');

type MemberMessage =
  | { type: 'assigned'; partitions: number[] }
  | { type: 'batch'; values: string[] }
  | { type: 'crash'; error: string };

class GroupMember {
  readonly received: string[] = [];
  assigned: number[] | undefined;
  crash: string | undefined;
  private readonly child: ChildProcess;

  constructor(brokers: string[], topic: string, groupId: string) {
    this.child = fork(memberScript, [brokers.join(','), topic, groupId], { stdio: 'inherit' });
    this.child.on('message', (message: MemberMessage) => {
      if (message.type === 'assigned') this.assigned = message.partitions;
      else if (message.type === 'batch') this.received.push(...message.values);
      else this.crash = message.error;
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send('stop');
    await exited;
  }
}

async function waitUntil(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The broker's error codes for a rejected createTopics (kafkajs wraps them in an aggregate error). */
async function createTopicErrorTypes(admin: Admin, topic: ITopicConfig): Promise<string[]> {
  try {
    await admin.createTopics({ topics: [topic] });
  } catch (error) {
    return ((error as { errors?: { type: string }[] }).errors ?? []).map((e) => e.type);
  }
  throw new Error(`createTopics accepted ${JSON.stringify(topic)}`);
}

function kafkaFor(mock: KafkaMockProcess): Kafka {
  return new Kafka({
    clientId: uniqueName('kafka_mock_spec'),
    brokers: mock.brokers,
    logLevel: logLevel.NOTHING,
  });
}

describe('kafka-mock launcher with kafkajs', () => {
  let mock: KafkaMockProcess;
  let kafka: Kafka;
  let admin: Admin;

  beforeAll(async () => {
    mock = await startKafkaMock();
    kafka = kafkaFor(mock);
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.disconnect();
    await mock?.stop();
  });

  it('creates topics only through the admin API and validates the request', async () => {
    const topic = uniqueTopicName('admin');
    await expect(admin.createTopics({ topics: [{ topic, numPartitions: 6 }] })).resolves.toBe(true);
    await expect(admin.createTopics({ topics: [{ topic, numPartitions: 6 }] })).resolves.toBe(false);

    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0].partitions).toHaveLength(6);

    await expect(
      createTopicErrorTypes(admin, { topic: uniqueTopicName('rf'), numPartitions: 1, replicationFactor: 3 }),
    ).resolves.toEqual(['INVALID_REPLICATION_FACTOR']);
    await expect(
      createTopicErrorTypes(admin, { topic: uniqueTopicName('zero'), numPartitions: 0 }),
    ).resolves.toEqual(['INVALID_PARTITIONS']);
    await expect(createTopicErrorTypes(admin, { topic: 'bad/name', numPartitions: 1 })).resolves.toEqual([
      'INVALID_TOPIC_EXCEPTION',
    ]);

    const unknown = uniqueTopicName('unknown');
    const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 1 } });
    await producer.connect();
    await expect(producer.send({ topic: unknown, messages: [{ value: 'x' }] })).rejects.toThrow();
    await producer.disconnect();
    expect(await admin.listTopics()).not.toContain(unknown);
  });

  it('accepts an idempotent producer and stores every message once', async () => {
    const topic = uniqueTopicName('idempotent');
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let batch = 0; batch < 5; batch++) {
      await producer.send({
        topic,
        messages: Array.from({ length: 100 }, (_, i) => ({ key: `meter-${i % 17}`, value: `${batch}-${i}` })),
      });
    }
    await producer.disconnect();

    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets).toHaveLength(4);
    expect(offsets.reduce((sum, p) => sum + Number(p.high), 0)).toBe(500);
    expect(offsets.filter((p) => Number(p.high) > 0).length).toBeGreaterThan(1);
  });

  it('runs a two-member group across processes and resumes from committed offsets', async () => {
    const topic = uniqueTopicName('group');
    const groupId = uniqueName('group');
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();

    const members = [
      new GroupMember(mock.brokers, topic, groupId),
      new GroupMember(mock.brokers, topic, groupId),
    ];
    try {
      await waitUntil(
        'both members to share the 4 partitions',
        () =>
          members.reduce((n, m) => n + (m.assigned?.length ?? 0), 0) === 4 &&
          members.every((m) => m.assigned?.length),
        60_000,
      );

      const firstRound = Array.from({ length: 200 }, (_, i) => `first-${i}`);
      await producer.send({ topic, messages: firstRound.map((value, i) => ({ key: `meter-${i}`, value })) });
      await waitUntil(
        'all first-round messages',
        () => members.reduce((n, m) => n + m.received.length, 0) >= 200,
        30_000,
      );

      expect(members.map((m) => m.crash)).toEqual([undefined, undefined]);
      expect(members.every((m) => m.received.length > 0)).toBe(true);
      const received = members.flatMap((m) => m.received);
      expect(received.slice().sort()).toEqual(firstRound.slice().sort());
    } finally {
      await Promise.all(members.map((m) => m.stop()));
    }

    const secondRound = Array.from({ length: 50 }, (_, i) => `second-${i}`);
    await producer.send({ topic, messages: secondRound.map((value, i) => ({ key: `meter-${i}`, value })) });
    await producer.disconnect();

    const resumed = kafka.consumer({
      groupId,
      sessionTimeout: 6000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 100,
    });
    const afterRestart: string[] = [];
    await resumed.connect();
    await resumed.subscribe({ topic, fromBeginning: true });
    await resumed.run({ eachMessage: async ({ message }) => void afterRestart.push(String(message.value)) });
    try {
      await waitUntil('the second round after the restart', () => afterRestart.length >= 50, 30_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(afterRestart.slice().sort()).toEqual(secondRound.slice().sort());
    } finally {
      await resumed.disconnect();
    }
  });
});

describe('kafka-mock launcher with three brokers', () => {
  it('spreads replicas over three fixed consecutive ports with broker 1 as controller', async () => {
    const mock = await startKafkaMock({ brokerCount: 3 });
    const admin = kafkaFor(mock).admin();
    try {
      const ports = mock.brokers.map((b) => Number(b.split(':')[1]));
      expect(ports).toEqual([ports[0], ports[0] + 1, ports[0] + 2]);
      await admin.connect();
      const cluster = await admin.describeCluster();
      expect(cluster.brokers.map((b) => b.nodeId).sort()).toEqual([1, 2, 3]);
      expect(cluster.controller).toBe(1);

      const topic = uniqueTopicName('replicated');
      await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 3 }] });
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(metadata.topics[0].partitions.map((p) => p.replicas.length)).toEqual([3, 3, 3]);
    } finally {
      await admin.disconnect();
      await mock.stop();
    }
  });
});
