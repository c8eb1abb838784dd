/**
 * Meter commands on the real app, database and local Kafka mock: a command is recorded, produced with acks
 * from all replicas to the partition of its meter's group (read back by a consumer), marked sent; with the
 * broker unreachable it is recorded as failed and the caller gets 503. Roles and tenant isolation throughout.
 */
import { generateApiKey, hashApiKey } from '@hes/keys';
import { decodeCommand, METER_GROUP_HEADER, partitionForGroup, type CommandMessage } from '@hes/messaging';
import { uniqueName, uniqueTopicName } from '@hes/testing';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import pino from 'pino';
import { createMeter, createUser, login, startHarness } from '../test-harness';
import { KafkaCommandPublisher } from './command-publisher';

jest.setTimeout(60_000);

type Harness = Awaited<ReturnType<typeof startHarness>>;

interface CommandBody {
  id: string;
  meterId: string;
  societyId: string | null;
  kind: string;
  params: Record<string, unknown>;
  status: string;
  requestedBy: string;
  requestedAt: string;
  sentAt: string | null;
  error: string | null;
}

interface Received {
  partition: number;
  key: string;
  group: string;
  command: CommandMessage;
}

const PARTITIONS = 4;
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const silent = pino({ level: 'silent' });

describe('meter commands', () => {
  const topic = uniqueTopicName('commands');
  const kafka = new Kafka({ clientId: 'hes-api-commands-test', brokers, logLevel: logLevel.NOTHING });
  const publisher = new KafkaCommandPublisher(
    kafka,
    { topic, numPartitions: PARTITIONS, replicationFactor: 1 },
    silent,
  );
  const received: Received[] = [];
  let consumer: Consumer;
  let harness: Harness;
  let societyA: string;
  let societyB: string;
  let operatorA: string;
  let operatorAId: string;
  let adminA: string;
  let viewerA: string;
  let adminB: string;
  let readKeyA: string;
  // Two group names that the partitioner puts on different partitions, so the test can tell them apart.
  const groups: string[] = [];

  const as = (credential: string, target: Harness = harness) => {
    const authorise = <T extends { set(name: string, value: string): T }>(test: T) =>
      credential.startsWith('hesgw_')
        ? test.set('X-API-Key', credential)
        : test.set('Authorization', `Bearer ${credential}`);
    return {
      get: (url: string) => authorise(target.http().get(`/api/v1${url}`)),
      post: (url: string, body: object = {}) => authorise(target.http().post(`/api/v1${url}`)).send(body),
    };
  };

  async function waitForReceived(count: number): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (received.length < count) {
      if (Date.now() > deadline) throw new Error(`received ${received.length} of ${count} commands`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  beforeAll(async () => {
    publisher.start();
    await publisher.ready;
    consumer = kafka.consumer({
      groupId: uniqueName('hes_api_commands'),
      sessionTimeout: 6000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 100,
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        received.push({
          partition,
          key: message.key?.toString() ?? '',
          group: message.headers?.[METER_GROUP_HEADER]?.toString() ?? '',
          command: decodeCommand(message.value!),
        });
      },
    });

    harness = await startHarness({ commands: publisher });
    for (let i = 0; groups.length < 2; i++) {
      const name = `group-${i}`;
      if (
        groups.length === 0 ||
        partitionForGroup(name, PARTITIONS) !== partitionForGroup(groups[0], PARTITIONS)
      )
        groups.push(name);
    }
    const groupIds = await harness.pool.query<{ id: number }>(
      `INSERT INTO meter_groups (name) VALUES ($1), ($2) RETURNING id`,
      groups,
    );
    const societies = await harness.pool.query<{ id: string }>(
      `INSERT INTO societies (name) VALUES ('Commands A'), ('Commands B') RETURNING id`,
    );
    [societyA, societyB] = societies.rows.map((row) => row.id);
    await createMeter(harness.pool, 'CA000001', societyA);
    await createMeter(harness.pool, 'CA000002', societyA);
    await createMeter(harness.pool, 'CB000001', societyB);
    await harness.pool.query(`UPDATE meters SET group_id = $1 WHERE meter_id = 'CA000001'`, [
      groupIds.rows[0].id,
    ]);
    await harness.pool.query(`UPDATE meters SET group_id = $1 WHERE meter_id = 'CA000002'`, [
      groupIds.rows[1].id,
    ]);
    operatorAId = await createUser(harness.pool, 'operator-a@example.org', [
      { societyId: societyA, role: 'field_operator' },
    ]);
    await createUser(harness.pool, 'admin-a@example.org', [{ societyId: societyA, role: 'society_admin' }]);
    await createUser(harness.pool, 'viewer-a@example.org', [{ societyId: societyA, role: 'viewer' }]);
    await createUser(harness.pool, 'admin-b@example.org', [{ societyId: societyB, role: 'society_admin' }]);
    [operatorA, adminA, viewerA, adminB] = await Promise.all(
      ['operator-a', 'admin-a', 'viewer-a', 'admin-b'].map(
        async (name) => (await login(harness, `${name}@example.org`)).accessToken,
      ),
    );
    readKeyA = generateApiKey();
    await harness.pool.query(
      `INSERT INTO api_keys (society_id, name, scope, key_hash) VALUES ($1, 'billing', 'read', $2)`,
      [societyA, hashApiKey(readKeyA)],
    );
  });
  afterAll(async () => {
    await consumer?.disconnect();
    await harness?.close();
    await publisher.stop();
  });

  it("records a command, produces it to its meter group's partition and marks it sent", async () => {
    const before = Date.now();
    const created = (
      await as(operatorA)
        .post('/meters/ca000001/commands', { kind: 'set_interval', params: { intervalSeconds: 900 } })
        .expect(201)
    ).body as CommandBody;
    expect(created).toMatchObject({
      meterId: 'CA000001',
      societyId: societyA,
      kind: 'set_interval',
      params: { intervalSeconds: 900 },
      status: 'sent',
      requestedBy: `user:${operatorAId}`,
      error: null,
    });
    expect(Date.parse(created.sentAt!)).toBeGreaterThanOrEqual(Date.parse(created.requestedAt));
    expect(Date.parse(created.requestedAt)).toBeGreaterThanOrEqual(before - 1000);
    const second = (await as(adminA).post('/meters/CA000002/commands', { kind: 'read_request' }).expect(201))
      .body as CommandBody;

    await waitForReceived(2);
    const byId = new Map(received.map((message) => [message.command.commandId, message]));
    expect(byId.get(created.id)).toEqual({
      partition: partitionForGroup(groups[0], PARTITIONS),
      key: 'CA000001',
      group: groups[0],
      command: {
        v: 1,
        commandId: created.id,
        kind: 'set_interval',
        issuedAt: Date.parse(created.requestedAt),
        target: 'CA000001',
        params: { intervalSeconds: 900 },
      },
    });
    expect(byId.get(second.id)).toMatchObject({
      partition: partitionForGroup(groups[1], PARTITIONS),
      key: 'CA000002',
      command: { kind: 'read_request', target: 'CA000002', params: {} },
    });

    expect((await as(viewerA).get(`/commands/${created.id}`).expect(200)).body).toEqual(created);
    const audit = await harness.pool.query(
      `SELECT actor, target, society_id AS "societyId", details FROM audit_log WHERE action = 'meter.command'
       ORDER BY id`,
    );
    expect(audit.rows[0]).toEqual({
      actor: `user:${operatorAId}`,
      target: 'meter:CA000001',
      societyId: societyA,
      details: { commandId: created.id, kind: 'set_interval' },
    });
  });

  it('validates the kind and its parameters with field-level errors', async () => {
    const details = async (meter: string, body: object) =>
      (await as(adminA).post(`/meters/${meter}/commands`, body).expect(400)).body.error.details;
    expect(await details('CA000001', { kind: 'explode' })).toEqual([
      expect.objectContaining({ field: 'kind' }),
    ]);
    expect(await details('CA000001', { kind: 'set_interval' })).toEqual([
      expect.objectContaining({ field: 'params.intervalSeconds' }),
    ]);
    expect(await details('CA000001', { kind: 'set_interval', params: { intervalSeconds: 5 } })).toEqual([
      expect.objectContaining({ field: 'params.intervalSeconds' }),
    ]);
    expect(await details('CA000001', { kind: 'connect', params: { force: true } })).toEqual([
      { field: 'params.force', message: 'is not a parameter of connect' },
    ]);
    expect(await details('not-hex!', { kind: 'connect' })).toEqual([
      { field: 'meterId', message: 'must be 8 hex digits' },
    ]);
    const count = await harness.pool.query(`SELECT count(*)::int AS n FROM meter_commands`);
    expect(count.rows[0].n).toBe(2);
  });

  it('lets only society admins and field operators send, within their own tenant', async () => {
    await as(viewerA).post('/meters/CA000001/commands', { kind: 'read_request' }).expect(403);
    await as(readKeyA).post('/meters/CA000001/commands', { kind: 'read_request' }).expect(403);
    const foreign = await as(adminB).post('/meters/CA000001/commands', { kind: 'disconnect' }).expect(404);
    const missing = await as(adminB).post('/meters/0BADBEEF/commands', { kind: 'disconnect' }).expect(404);
    expect(foreign.body).toEqual(missing.body);

    const theirs = (await as(adminB).post('/meters/CB000001/commands', { kind: 'connect' }).expect(201))
      .body as CommandBody;
    const mine = (await as(adminA).get('/meters/CA000001/commands').expect(200)).body;
    expect(mine.items.map((command: CommandBody) => command.meterId)).toEqual(['CA000001']);
    await as(adminA).get(`/commands/${theirs.id}`).expect(404);
    await as(adminA).get('/meters/CB000001/commands').expect(404);
    await as(adminB).get('/meters/CA000001/commands').expect(404);

    // A meter that moves to A brings no history from B: B's commands stay in B's tenant.
    await harness.pool.query(`UPDATE meters SET society_id = $1 WHERE meter_id = 'CB000001'`, [societyA]);
    expect((await as(adminA).get('/meters/CB000001/commands').expect(200)).body.items).toEqual([]);
    await as(adminA).get(`/commands/${theirs.id}`).expect(404);
    await as(adminB).get(`/commands/${theirs.id}`).expect(200);
  });

  it("pages through a meter's commands newest first", async () => {
    for (const kind of ['connect', 'disconnect', 'read_request'])
      await as(operatorA).post('/meters/CA000002/commands', { kind }).expect(201);
    const all = (await as(viewerA).get('/meters/CA000002/commands').expect(200)).body.items as CommandBody[];
    expect(all.map((command) => command.kind)).toEqual([
      'read_request',
      'disconnect',
      'connect',
      'read_request',
    ]);
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? '' : `&cursor=${cursor}`;
      const page = (await as(viewerA).get(`/meters/CA000002/commands?limit=3${query}`).expect(200)).body as {
        items: CommandBody[];
        nextCursor: string | null;
      };
      paged.push(...page.items.map((command) => command.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(paged).toEqual(all.map((command) => command.id));
  });

  it('records the command as failed and answers 503 when the broker is unreachable', async () => {
    const deadBroker = new KafkaCommandPublisher(
      new Kafka({
        clientId: 'hes-api-dead',
        brokers: ['127.0.0.1:1'],
        logLevel: logLevel.NOTHING,
        connectionTimeout: 300,
        retry: { retries: 0 },
      }),
      { topic, numPartitions: PARTITIONS, replicationFactor: 1 },
      silent,
      1000,
    );
    const offline = await startHarness({ database: harness.db, commands: deadBroker });
    try {
      const operator = (await login(offline, 'operator-a@example.org')).accessToken;
      const response = await as(operator, offline)
        .post('/meters/CA000001/commands', { kind: 'disconnect' })
        .expect(503);
      expect(response.body.error.code).toBe('unavailable');
      const [detail] = response.body.error.details as { field: string; message: string }[];
      expect(detail.field).toBe('commandId');
      const failed = (await as(operatorA).get(`/commands/${detail.message}`).expect(200)).body as CommandBody;
      expect(failed).toMatchObject({ kind: 'disconnect', status: 'failed', sentAt: null });
      expect(failed.error).toMatch(/Kafka unavailable/);
    } finally {
      await offline.close();
      await deadBroker.stop();
    }
  });
});
