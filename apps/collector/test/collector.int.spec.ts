/**
 * The collector as it runs in production (startCollector: migrations, Kafka topics and producer,
 * PostgreSQL-backed gateway keys / meter groups / upload records, MQTT ingest) against the local stack:
 * the shared Kafka broker with this file's own topics, a throw-away PostgreSQL database, Mosquitto with
 * this file's own topic. What reaches Kafka is read back with a real consumer.
 */
import { generateApiKey, hashApiKey } from '@hes/keys';
import {
  decodeDeadLetter,
  decodeEnvelope,
  partitionForGroup,
  type DeadLetterMessage,
  type TelegramEnvelope,
} from '@hes/messaging';
import { createPool, GatewayRepository, MeterRepository } from '@hes/storage';
import { createTestDatabase, findFreePortRange, uniqueName, type TestDatabase } from '@hes/testing';
import { addFrameCrcs } from '@hes/wmbus';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import mqtt from 'mqtt';
import { request as httpRequest } from 'node:http';
import type { Pool } from 'pg';
import request from 'supertest';
import { MqttIngestService } from '../src/mqtt/mqtt-ingest.service';
import { startCollector, type RunningCollector } from '../src/runtime';

jest.setTimeout(120_000);

const PARTITIONS = 4;
/** Kamstrup flowIQ-style frame (ELL AES-CTR, still encrypted), vector "Elen" of shared/wmbus/vectors.jsonl. */
const KAMSTRUP = Buffer.from(
  '35442D2C6666666633028D2070806A0520B4D3780405F208000004FB82753F00000004853C0000000004FB82F53CCA01000001FD1722',
  'hex',
);

/** The same frame from another meter: the id is bytes 4-7, least significant byte first. */
function telegramOf(meterId: string): Buffer {
  const telegram = Buffer.from(KAMSTRUP);
  Buffer.from(meterId, 'hex').reverse().copy(telegram, 4);
  return telegram;
}

interface Received<T> {
  partition: number;
  value: T;
}

async function waitUntil(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Two group names that the partitioner puts on different partitions (asserted, not assumed). */
function groupsOnDifferentPartitions(): [string, string] {
  const first = 'tower-a';
  for (let i = 0; i < 100; i++) {
    const second = `tower-b${i}`;
    if (partitionForGroup(second, PARTITIONS) !== partitionForGroup(first, PARTITIONS))
      return [first, second];
  }
  throw new Error('no second group on another partition');
}

describe('collector against Kafka, PostgreSQL and Mosquitto', () => {
  const base = uniqueName('collector');
  const topicPrefix = `hes.test.${base}.`;
  const rawTopic = `${topicPrefix}telegrams.raw`;
  const deadLetterTopic = `${topicPrefix}dead-letters`;
  const mqttBase = `hes-test/${base}`;
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
  const [groupA, groupB] = groupsOnDifferentPartitions();

  let db: TestDatabase;
  let pool: Pool;
  let collector: RunningCollector;
  let env: NodeJS.ProcessEnv;
  let apiKey: string;
  const consumers: Consumer[] = [];
  const raw: Received<TelegramEnvelope>[] = [];
  const deadLetters: Received<DeadLetterMessage>[] = [];

  const rawFor = (meterIds: string[]) => raw.filter((r) => meterIds.includes(r.value.meterId));
  const post = (path: string) =>
    request(`http://127.0.0.1:${collector.port}`).post(path).set('Authorization', `Bearer ${apiKey}`);

  async function consume<T>(topic: string, decode: (value: Buffer) => T, into: Received<T>[]) {
    const kafka = new Kafka({ clientId: 'collector-int-test', brokers, logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({
      groupId: uniqueName('collector_test'),
      sessionTimeout: 6000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 100,
    });
    consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        into.push({ partition, value: decode(message.value!) });
      },
    });
  }

  beforeAll(async () => {
    db = await createTestDatabase('hes_collector');
    env = {
      ...process.env,
      DATABASE_URL: db.url,
      KAFKA_TOPIC_PREFIX: topicPrefix,
      KAFKA_PARTITIONS: String(PARTITIONS),
      MQTT_TOPIC: `${mqttBase}/gw/+/telegrams`,
      LOG_LEVEL: 'silent',
      COLLECTOR_MQTT_SHARE_GROUP: base,
      COLLECTOR_MQTT_CLIENT_ID: `${base}-a`,
    };
    collector = await startCollector({ env, port: 0 });
    await collector.kafka.ready;
    await collector.app.get(MqttIngestService).subscribed;

    // The collector migrated the database at start-up; the registry is filled as an operator would.
    pool = createPool(db.url, { max: 2 });
    const meters = new MeterRepository(pool);
    const towerA = await meters.createGroup(groupA);
    const towerB = await meters.createGroup(groupB);
    await meters.register({
      meterId: '11110001',
      manufacturer: 'KAM',
      deviceType: 0x16,
      version: 0x33,
      groupId: towerA.id,
    });
    await meters.register({
      meterId: 'A1B2C3D4',
      manufacturer: 'KAM',
      deviceType: 0x16,
      version: 0x33,
      groupId: towerB.id,
    });
    apiKey = generateApiKey();
    await new GatewayRepository(pool).create({
      id: 'gw-int',
      name: 'Tower A roof',
      apiKeyHash: hashApiKey(apiKey),
    });

    await consume(rawTopic, decodeEnvelope, raw);
    await consume(deadLetterTopic, decodeDeadLetter, deadLetters);
  });

  afterAll(async () => {
    await Promise.allSettled(consumers.map((c) => c.disconnect()));
    await collector?.stop();
    await pool?.end();
    await db?.drop();
  });

  it('reports Kafka, the database and MQTT healthy', async () => {
    await request(`http://127.0.0.1:${collector.port}`)
      .get('/health')
      .expect(200, {
        status: 'ok',
        checks: { kafka: { status: 'up' }, database: { status: 'up' }, mqtt: { status: 'up' } },
      });
  });

  it('refuses a batch without an API key or with an unknown one', async () => {
    const target = request(`http://127.0.0.1:${collector.port}`);
    await target
      .post('/api/v1/gateways/telegrams')
      .send([telegramOf('99990001').toString('hex')])
      .expect(401);
    await target
      .post('/api/v1/gateways/telegrams')
      .set('X-API-Key', generateApiKey())
      .send([telegramOf('99990001').toString('hex')])
      .expect(401);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(rawFor(['99990001'])).toHaveLength(0);
  });

  it('produces exactly the accepted items of a mixed batch, each on its meter group partition', async () => {
    const badCrc = addFrameCrcs(telegramOf('22220002'), 'A');
    badCrc[20] ^= 0xff;
    const response = await post('/api/v1/gateways/telegrams')
      .send([
        { telegram: telegramOf('11110001').toString('hex'), rssi: -70 },
        { telegram: telegramOf('a1b2c3d4').toString('hex') },
        // Same radio frame with its CRCs, as another gateway delivers it: a duplicate.
        { telegram: addFrameCrcs(telegramOf('11110001'), 'A').toString('base64') },
        { telegram: 'zz' },
        { telegram: badCrc.toString('hex') },
        { telegram: telegramOf('33330003').toString('hex') },
      ])
      .expect(200);
    expect(response.body).toMatchObject({ accepted: 3, duplicates: 1, rejected: 2 });
    expect(response.body.results.map((r: { status: string }) => r.status)).toEqual([
      'accepted',
      'accepted',
      'duplicate',
      'rejected',
      'rejected',
      'accepted',
    ]);
    expect(response.body.results[3].reason.code).toBe('BAD_INPUT');
    expect(response.body.results[4].reason.code).toBe('BAD_CRC');

    const sent = ['11110001', 'a1b2c3d4', '33330003', '22220002'];
    await waitUntil('three envelopes on the raw topic', () => rawFor(sent).length >= 3);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const arrived = rawFor(sent);
    expect(arrived).toHaveLength(3);
    const byMeter = new Map(arrived.map((r) => [r.value.meterId, r]));
    const expectedGroups: Array<[string, string]> = [
      ['11110001', groupA],
      ['a1b2c3d4', groupB],
      ['33330003', 'default'],
    ];
    for (const [meterId, group] of expectedGroups) {
      const received = byMeter.get(meterId)!;
      expect(received.value).toMatchObject({ sourceKind: 'gateway', sourceId: 'gw-int', meterGroup: group });
      expect(received.partition).toBe(partitionForGroup(group, PARTITIONS));
    }
    expect(byMeter.get('11110001')!.partition).not.toBe(byMeter.get('a1b2c3d4')!.partition);
    expect(byMeter.get('11110001')!.value.signal).toBe(-70);
    expect(byMeter.get('a1b2c3d4')!.value.telegram).toEqual(telegramOf('a1b2c3d4'));
  });

  it('produces a retried handheld upload (same Idempotency-Key) once', async () => {
    const uploadId = `walk-${base}`;
    const upload = {
      scanSessionId: 'session-1',
      lat: 52.1,
      lon: 4.3,
      telegrams: [telegramOf('44440004').toString('hex')],
    };
    const first = await post('/api/v1/handheld/uploads')
      .set('Idempotency-Key', uploadId)
      .send(upload)
      .expect(200);
    expect(first.body).toMatchObject({ uploadId, accepted: 1, rejected: 0 });
    const retry = await post('/api/v1/handheld/uploads')
      .set('Idempotency-Key', uploadId)
      .send(upload)
      .expect(200);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body).toEqual(first.body);

    await waitUntil('the handheld envelope', () => rawFor(['44440004']).length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const arrived = rawFor(['44440004']);
    expect(arrived).toHaveLength(1);
    expect(arrived[0].value).toMatchObject({
      sourceKind: 'handheld',
      sourceId: 'gw-int',
      uploadId,
      scanSessionId: 'session-1',
      gps: { latitude: 52.1, longitude: 4.3 },
    });
    const stored = await pool.query('SELECT item_count FROM handheld_uploads WHERE upload_id = $1', [
      uploadId,
    ]);
    expect(stored.rows).toEqual([{ item_count: 1 }]);
  });

  it('takes MQTT messages to the raw topic and invalid ones to the dead-letter topic with the reason', async () => {
    const client = await mqtt.connectAsync(env.MQTT_URL ?? 'mqtt://127.0.0.1:1883', {
      clientId: `${base}-pub`,
    });
    try {
      await client.publishAsync(
        `${mqttBase}/gw/gw-mqtt-7/telegrams`,
        JSON.stringify([{ telegram: telegramOf('55550005').toString('hex'), rssi: -80 }]),
        { qos: 1 },
      );
      await client.publishAsync(`${mqttBase}/gw/gw-mqtt-8/telegrams`, JSON.stringify({ telegram: 'zz' }), {
        qos: 1,
      });
      await client.publishAsync(`${mqttBase}/gw/gw-mqtt-9/telegrams`, '{"telegram": ', { qos: 1 });
    } finally {
      await client.endAsync();
    }

    await waitUntil('the MQTT envelope', () => rawFor(['55550005']).length >= 1);
    expect(rawFor(['55550005'])[0].value).toMatchObject({
      sourceKind: 'mqtt',
      sourceId: 'gw-mqtt-7',
      signal: -80,
    });

    await waitUntil('two dead letters', () => deadLetters.length >= 2);
    const bySource = new Map(deadLetters.map((d) => [d.value.source.id, d.value]));
    expect(bySource.get('gw-mqtt-8')).toMatchObject({
      reasonCode: 'BAD_INPUT',
      field: 'telegram',
      source: { kind: 'mqtt', id: 'gw-mqtt-8' },
    });
    expect(Buffer.from(bySource.get('gw-mqtt-8')!.original, 'base64').toString()).toBe('{"telegram":"zz"}');
    expect(bySource.get('gw-mqtt-9')).toMatchObject({ reasonCode: 'BAD_PAYLOAD', source: { kind: 'mqtt' } });
    expect(bySource.get('gw-mqtt-9')!.message).toMatch(/not valid JSON/);
  });

  it('answers 503 with Retry-After when Kafka is unreachable, and reports it on /health', async () => {
    const closedPort = await findFreePortRange(1);
    const offline = await startCollector({
      env: {
        ...env,
        KAFKA_BROKERS: `127.0.0.1:${closedPort}`,
        COLLECTOR_MQTT_ENABLED: 'false',
        COLLECTOR_MIGRATE_ON_START: 'false',
      },
      port: 0,
    });
    try {
      const target = request(`http://127.0.0.1:${offline.port}`);
      const refused = await target
        .post('/api/v1/gateways/telegrams')
        .set('Authorization', `Bearer ${apiKey}`)
        .send([telegramOf('66660006').toString('hex')])
        .expect(503);
      expect(refused.headers['retry-after']).toBe('5');
      expect(refused.body).toMatchObject({ error: 'unavailable' });
      const health = await target.get('/health').expect(503);
      expect(health.body.checks).toMatchObject({ kafka: { status: 'down' }, database: { status: 'up' } });
    } finally {
      await offline.stop();
    }
    expect(rawFor(['66660006'])).toHaveLength(0);
  });

  it('drains an NDJSON upload still streaming when it is told to stop', async () => {
    const lines = ['77770001', '77770002'].map((id) =>
      JSON.stringify({ telegram: telegramOf(id).toString('hex') }),
    );
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: collector.port,
          method: 'POST',
          path: '/api/v1/gateways/telegrams',
          headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/x-ndjson' },
        },
        (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.write(`${lines[0]}\n`);
      // The stop begins while the request is open; the rest of the body arrives afterwards.
      setTimeout(() => {
        stopping = collector.stop();
        setTimeout(() => req.end(`${lines[1]}\n`), 300);
      }, 300);
    });
    let stopping: Promise<void> | undefined;
    const { status, body } = await response;
    expect(status).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ accepted: 2, rejected: 0 });
    await stopping;
    await waitUntil('the drained envelopes', () => rawFor(['77770001', '77770002']).length === 2);
  });
});
