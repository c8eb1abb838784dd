/**
 * Society API keys at the collector (startCollector against the local Kafka broker and a throw-away database):
 * a key with the ingest scope posts telegrams like a gateway (its envelopes name the key) for its society's meters
 * and unregistered ones, a read key is refused with 403, a revoked one with 401; refusals are audit-logged with the client address, which comes from
 * X-Forwarded-For only when COLLECTOR_TRUST_PROXY names the proxy.
 */
import { generateApiKey, hashApiKey } from '@hes/keys';
import { decodeEnvelope, type TelegramEnvelope } from '@hes/messaging';
import { createPool } from '@hes/storage';
import { createTestDatabase, uniqueName, type TestDatabase } from '@hes/testing';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import type { Pool } from 'pg';
import request from 'supertest';
import { startCollector, type RunningCollector } from '../src/runtime';

jest.setTimeout(60_000);

/** Kamstrup flowIQ-style frame (ELL AES-CTR, still encrypted), vector "Elen" of shared/wmbus/vectors.jsonl. */
const KAMSTRUP =
  '35442D2C6666666633028D2070806A0520B4D3780405F208000004FB82753F00000004853C0000000004FB82F53CCA01000001FD1722';

/** The same frame from another meter: the id is bytes 4-7, least significant byte first. */
function telegramOf(meterId: string): string {
  const telegram = Buffer.from(KAMSTRUP, 'hex');
  Buffer.from(meterId, 'hex').reverse().copy(telegram, 4);
  return telegram.toString('hex');
}

describe('society API keys at the collector', () => {
  const base = uniqueName('collector_keys');
  const topicPrefix = `hes.test.${base}.`;
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
  const received: TelegramEnvelope[] = [];
  let db: TestDatabase;
  let pool: Pool;
  let direct: RunningCollector;
  let proxied: RunningCollector;
  let consumer: Consumer;
  let societyId: string;
  const keys = { ingest: generateApiKey(), read: generateApiKey(), revoked: generateApiKey() };
  let ingestKeyId: string;
  let readKeyId: string;

  const refusals = async () =>
    (
      await pool.query<{ actor: string; societyId: string | null; details: object; ip: string }>(
        `SELECT actor, society_id AS "societyId", details, ip FROM audit_log WHERE action = 'ingest.key_refused'
         ORDER BY id`,
      )
    ).rows;

  beforeAll(async () => {
    db = await createTestDatabase('hes_collector_keys');
    const env = {
      ...process.env,
      DATABASE_URL: db.url,
      KAFKA_TOPIC_PREFIX: topicPrefix,
      KAFKA_PARTITIONS: '2',
      LOG_LEVEL: 'silent',
      COLLECTOR_MQTT_ENABLED: 'false',
    };
    direct = await startCollector({ env, port: 0 });
    proxied = await startCollector({ env: { ...env, COLLECTOR_TRUST_PROXY: 'loopback' }, port: 0 });
    await Promise.all([direct.kafka.ready, proxied.kafka.ready]);

    pool = createPool(db.url, { max: 2 });
    societyId = (
      await pool.query<{ id: string }>(`INSERT INTO societies (name) VALUES ('Keys') RETURNING id`)
    ).rows[0].id;
    const insertKey = async (key: string, scope: string, revoked: boolean) =>
      (
        await pool.query<{ id: string }>(
          `INSERT INTO api_keys (society_id, name, scope, key_hash, revoked_at)
           VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN now() END) RETURNING id`,
          [societyId, `${scope}${revoked ? ' (revoked)' : ''}`, scope, hashApiKey(key), revoked],
        )
      ).rows[0].id;
    ingestKeyId = await insertKey(keys.ingest, 'ingest', false);
    readKeyId = await insertKey(keys.read, 'read', false);
    await insertKey(keys.revoked, 'ingest', true);

    const kafka = new Kafka({ clientId: 'collector-keys-test', brokers, logLevel: logLevel.NOTHING });
    consumer = kafka.consumer({
      groupId: uniqueName('collector_keys'),
      sessionTimeout: 6000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 100,
    });
    await consumer.connect();
    await consumer.subscribe({ topic: `${topicPrefix}telegrams.raw`, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => void received.push(decodeEnvelope(message.value!)),
    });
  });

  afterAll(async () => {
    await consumer?.disconnect();
    await direct?.stop();
    await proxied?.stop();
    await pool?.end();
    await db?.drop();
  });

  const post = (collector: RunningCollector, key: string) =>
    request(`http://127.0.0.1:${collector.port}`)
      .post('/api/v1/gateways/telegrams')
      .set('X-API-Key', key)
      .set('X-Forwarded-For', '203.0.113.5');

  it('takes telegrams from a society key with the ingest scope, attributed to the key', async () => {
    const response = await post(direct, keys.ingest)
      .send([{ telegram: KAMSTRUP, receivedAt: new Date().toISOString() }])
      .expect(200);
    expect(response.body.accepted).toBe(1);
    const deadline = Date.now() + 30_000;
    while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      sourceKind: 'gateway',
      sourceId: `api_key:${ingestKeyId}`,
      meterId: '66666666',
    });
    const used = await pool.query(`SELECT last_used_at FROM api_keys WHERE id = $1`, [ingestKeyId]);
    expect(used.rows[0].last_used_at).not.toBeNull();
  });

  it("rejects telegrams of meters registered outside the key's society, takes its own and unregistered ones", async () => {
    const other = (
      await pool.query<{ id: string }>(`INSERT INTO societies (name) VALUES ('Other') RETURNING id`)
    ).rows[0].id;
    const register = (meterId: string, society: string | null) =>
      pool.query(
        `INSERT INTO meters (meter_id, manufacturer, device_type, version, society_id) VALUES ($1, 'KAM', 22, 51, $2)`,
        [meterId, society],
      );
    await register('11110001', societyId);
    await register('22220002', other);
    await register('33330003', null);
    const receivedAt = new Date().toISOString();
    const items = ['11110001', '22220002', '33330003', '44440004'].map((meterId) => ({
      telegram: telegramOf(meterId),
      receivedAt,
    }));
    const response = await post(direct, keys.ingest).send(items).expect(200);
    expect(response.body.results.map((result: { status: string }) => result.status)).toEqual([
      'accepted',
      'rejected',
      'rejected',
      'accepted',
    ]);
    expect(response.body.results[1].reason).toEqual({
      code: 'METER_NOT_IN_SOCIETY',
      message: "meter 22220002 is registered outside the API key's society",
      field: 'telegram',
    });
    const deadline = Date.now() + 30_000;
    while (received.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(received.slice(1).map((envelope) => envelope.meterId)).toEqual(['11110001', '44440004']);
  });

  it('refuses a read key with 403 and a revoked key with 401, recording the peer address', async () => {
    const forbidden = await post(direct, keys.read).send([]).expect(403);
    expect(forbidden.body.error?.message ?? forbidden.body.message).toMatch(/read scope/);
    await post(direct, keys.revoked).send([]).expect(401);
    // The verdicts are cached: repeating a refused key is refused again without another audit entry.
    await post(direct, keys.read).send([]).expect(403);
    const entries = await refusals();
    expect(entries).toEqual([
      {
        actor: `api_key:${readKeyId}`,
        societyId,
        details: { reason: 'scope', scope: 'read' },
        ip: expect.stringMatching(/^(::ffff:)?127\.0\.0\.1$/),
      },
      {
        actor: 'anonymous',
        societyId: null,
        details: { reason: 'unknown_or_revoked' },
        ip: expect.stringMatching(/^(::ffff:)?127\.0\.0\.1$/),
      },
    ]);
  });

  it('records the forwarded client address behind a trusted proxy', async () => {
    await post(proxied, generateApiKey()).send([]).expect(401);
    const entries = await refusals();
    expect(entries[entries.length - 1]).toMatchObject({ actor: 'anonymous', ip: '203.0.113.5' });
  });
});
