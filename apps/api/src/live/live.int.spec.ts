/**
 * The live gateway against the real stack: two API instances listening on ports over one PostgreSQL database,
 * real `ws` clients, readings and events published through Redis by ReadingCache exactly as the decryptor does
 * (stored with ReadingWriter first where the database must have them).
 */
import type { CachedReading } from '@hes/cache';
import { generateApiKey, hashApiKey } from '@hes/keys';
import { ReadingWriter } from '@hes/storage';
import WebSocket from 'ws';
import { createMeter, createUser, login, startHarness } from '../test-harness';
import type { LiveConnectionContext } from './live-connection';
import { LIVE_CONTEXT, LiveGateway } from './live.gateway';
import { CLOSE_CODES, type ServerMessage } from './live-protocol';
import { LiveTestClient } from './live-test-client';

jest.setTimeout(30_000);

type Harness = Awaited<ReturnType<typeof startHarness>>;

const MAX_MESSAGES_PER_SECOND = 5;

describe('live gateway', () => {
  let first: Harness;
  let second: Harness;
  let firstUrl: string;
  let secondUrl: string;
  let root: string;
  let viewerA: string;
  let readKeyA: string;
  let ingestKeyA: string;
  let societyA: string;
  let societyB: string;
  let northGroup: number;
  const clients: LiveTestClient[] = [];

  const connect = async (url = firstUrl, headers: Record<string, string> = {}) => {
    const client = await LiveTestClient.connect(url, headers);
    clients.push(client);
    return client;
  };

  /** A client authenticated with a bearer token in the upgrade request. */
  const connectAs = async (token: string, url = firstUrl) => {
    const client = await connect(url, { Authorization: `Bearer ${token}` });
    await client.next('authenticated');
    return client;
  };

  const reading = (meterId: string, value: number, tsMs: number, quantity = 'total_m3'): CachedReading => ({
    meterId,
    meterGroup: meterId.startsWith('A1') || meterId.startsWith('B1') ? 'north' : 'default',
    quantity,
    unit: 'm3',
    value,
    ts: tsMs,
  });

  const updates = (client: LiveTestClient) =>
    client.messages.filter((m): m is Extract<ServerMessage, { type: 'update' }> => m.type === 'update');

  async function apiKey(societyId: string, scope: 'read' | 'ingest'): Promise<string> {
    const key = generateApiKey();
    await first.pool.query(
      `INSERT INTO api_keys (society_id, name, key_hash, scope) VALUES ($1, $2, $3, $4)`,
      [societyId, `${scope} key`, hashApiKey(key), scope],
    );
    return key;
  }

  beforeAll(async () => {
    first = await startHarness({
      websocket: { maxMessagesPerSecond: MAX_MESSAGES_PER_SECOND, authTimeoutMs: 500, backfillLimit: 3 },
    });
    second = await startHarness({
      database: first.db,
      cacheKeyPrefix: first.readingCache.keys.prefix,
      websocket: { maxMessagesPerSecond: 1000, maxBufferedBytes: 65_536 },
    });
    await first.app.listen(0, '127.0.0.1');
    await second.app.listen(0, '127.0.0.1');
    firstUrl = `ws://127.0.0.1:${first.app.getHttpServer().address().port}/api/v1/ws`;
    secondUrl = `ws://127.0.0.1:${second.app.getHttpServer().address().port}/api/v1/ws`;

    const pool = first.pool;
    [societyA, societyB] = (
      await pool.query<{ id: string }>(`INSERT INTO societies (name) VALUES ('A'), ('B') RETURNING id`)
    ).rows.map((r) => r.id);
    northGroup = (
      await pool.query<{ id: number }>(`INSERT INTO meter_groups (name) VALUES ('north') RETURNING id`)
    ).rows[0].id;
    for (const [meterId, society] of [
      ['A1000001', societyA],
      ['A2000002', societyA],
      ['A3000003', societyA],
      ['B1000001', societyB],
      ['B2000002', societyB],
    ])
      await createMeter(pool, meterId, society);
    await pool.query(`UPDATE meters SET group_id = $1 WHERE meter_id IN ('A1000001', 'B1000001')`, [
      northGroup,
    ]);
    await createUser(pool, 'root@example.org', [{ societyId: null, role: 'platform_admin' }]);
    await createUser(pool, 'viewer-a@example.org', [{ societyId: societyA, role: 'viewer' }]);
    root = (await login(first, 'root@example.org')).accessToken;
    viewerA = (await login(first, 'viewer-a@example.org')).accessToken;
    readKeyA = await apiKey(societyA, 'read');
    ingestKeyA = await apiKey(societyA, 'ingest');
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  describe('authentication', () => {
    it('closes a connection that never authenticates with 4401 and says why', async () => {
      const client = await connect();
      expect(await client.closed).toEqual({
        code: CLOSE_CODES.unauthenticated,
        reason: expect.stringMatching(/^authentication timeout/),
      });
    });

    it('rejects bad credentials in the header and in the auth message', async () => {
      const badHeader = await connect(firstUrl, { Authorization: 'Bearer not-a-token' });
      expect(await badHeader.closed).toEqual({
        code: CLOSE_CODES.unauthenticated,
        reason: 'authentication failed: credential is neither an API key nor a JWT',
      });
      const badMessage = await connect();
      badMessage.send({ type: 'auth', token: 'hesgw_unknown' });
      expect(await badMessage.closed).toEqual({
        code: CLOSE_CODES.unauthenticated,
        reason: 'authentication failed: unknown or revoked API key',
      });
    });

    it('refuses to subscribe before authentication', async () => {
      const client = await connect();
      client.send({ type: 'subscribe', meterId: 'A1000001' });
      expect((await client.closed).code).toBe(CLOSE_CODES.unauthenticated);
      expect(client.messages).toEqual([]);
    });

    it('needs the read scope: an ingest-only API key is closed with 4403', async () => {
      const client = await connect(firstUrl, { 'X-API-Key': ingestKeyA });
      expect(await client.closed).toEqual({
        code: CLOSE_CODES.forbidden,
        reason: 'credential lacks the read scope',
      });
    });

    it('accepts a read API key in the header and an access token in the auth message', async () => {
      const byKey = await connect(firstUrl, { 'X-API-Key': readKeyA });
      expect(await byKey.next('authenticated')).toEqual({
        type: 'authenticated',
        principal: { kind: 'api_key', role: 'viewer', societyIds: [societyA] },
        maxMessagesPerSecond: MAX_MESSAGES_PER_SECOND,
      });
      const byMessage = await connect();
      byMessage.send({ type: 'auth', token: viewerA });
      expect((await byMessage.next('authenticated')).principal.societyIds).toEqual([societyA]);
    });

    it('closes a connection whose API key is revoked while it is open', async () => {
      const key = await apiKey(societyA, 'read');
      const client = await connect(firstUrl, { 'X-API-Key': key });
      await client.next('authenticated');
      const gateway = first.app.get(LiveGateway);
      gateway.recheckCredentials();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(client.socket.readyState).toBe(WebSocket.OPEN);
      await first.pool.query(`UPDATE api_keys SET revoked_at = now() WHERE key_hash = $1`, [hashApiKey(key)]);
      gateway.recheckCredentials();
      expect(await client.closed).toEqual({
        code: CLOSE_CODES.unauthenticated,
        reason: 'authentication failed: unknown or revoked API key',
      });
    });

    it('answers a flood of requests with rate_limited and keeps serving the connection', async () => {
      const client = await connectAs(viewerA);
      for (let i = 0; i < 200; i++) client.send({ type: 'subscribe', meterId: 'A3000003' });
      expect((await client.next('error')).error).toEqual({
        code: 'rate_limited',
        message: 'more than 32 requests waiting; wait for the answers',
        details: [],
      });
      const answered = () => client.messages.filter((m) => m.type === 'subscribed').length;
      // Those waiting are still answered; then the connection takes requests again.
      await client.next('subscribed', () => answered() >= 32);
      client.send({ type: 'unsubscribe', meterId: 'A3000003' });
      await client.next('unsubscribed');
      expect(answered()).toBeLessThan(200);
    });

    it('answers malformed messages with field-level errors', async () => {
      const client = await connectAs(viewerA);
      client.send({ type: 'subscribe', meterId: 'XYZ', since: 'yesterday' });
      const error = await client.next('error');
      expect(error.error.code).toBe('validation_failed');
      expect(error.error.details).toEqual(
        expect.arrayContaining([
          { field: 'meterId', message: 'must be 8 hex digits' },
          { field: 'since', message: 'must be an ISO 8601 timestamp with a time zone' },
        ]),
      );
    });
  });

  it('delivers readings and events published through Redis to a meter subscription', async () => {
    const client = await connectAs(viewerA);
    client.send({ type: 'subscribe', meterId: 'a1000001' });
    expect(await client.next('subscribed')).toEqual({
      type: 'subscribed',
      subscription: 'meter:A1000001',
      meters: 1,
    });
    const ts = Date.now();
    await first.readingCache.applyReadings([reading('A1000001', 12.5, ts)]);
    await first.readingCache.publishEvents([
      { meterId: 'A1000001', meterGroup: 'north', kind: 'leak', ts, details: { hours: 3 } },
    ]);
    const update = await client.next('update', (m) => m.events.length > 0);
    const received = updates(client);
    expect(received.flatMap((m) => m.readings)).toEqual([
      {
        meterId: 'A1000001',
        quantity: 'total_m3',
        storage: 0,
        tariff: 0,
        unit: 'm3',
        value: 12.5,
        ts: new Date(ts).toISOString(),
      },
    ]);
    expect(update.events).toEqual([
      { meterId: 'A1000001', kind: 'leak', ts: new Date(ts).toISOString(), details: { hours: 3 } },
    ]);
  });

  describe('tenant isolation', () => {
    it("answers another tenant's meter and society exactly like missing ones", async () => {
      const client = await connectAs(viewerA);
      const errorFor = async (target: object, subscription: string) => {
        client.send({ type: 'subscribe', ...target });
        const { subscription: echoed, ...error } = await client.next(
          'error',
          (m) => m.subscription === subscription,
        );
        expect(echoed).toBe(subscription);
        return error;
      };
      const missingMeter = await errorFor({ meterId: 'DEADBEEF' }, 'meter:DEADBEEF');
      expect(missingMeter).toEqual({
        type: 'error',
        error: { code: 'not_found', message: 'meter not found', details: [] },
      });
      expect(await errorFor({ meterId: 'B1000001' }, 'meter:B1000001')).toEqual(missingMeter);
      const unknownSociety = '00000000-0000-4000-8000-000000000000';
      const missingSociety = await errorFor({ societyId: unknownSociety }, `society:${unknownSociety}`);
      expect(missingSociety.error.message).toBe('society not found');
      expect(await errorFor({ societyId: societyB }, `society:${societyB}`)).toEqual(missingSociety);

      const byKey = await connect(firstUrl, { 'X-API-Key': readKeyA });
      await byKey.next('authenticated');
      byKey.send({ type: 'subscribe', meterId: 'B2000002' });
      expect((await byKey.next('error')).error).toEqual(missingMeter.error);
    });

    it("delivers only the caller's meters of a group, and only its society's meters", async () => {
      const client = await connectAs(viewerA);
      client.send({ type: 'subscribe', groupId: northGroup });
      expect(await client.next('subscribed')).toMatchObject({
        subscription: `group:${northGroup}`,
        meters: 1,
      });
      client.send({ type: 'subscribe', societyId: societyA });
      expect(await client.next('subscribed', (m) => m.subscription.startsWith('society:'))).toMatchObject({
        meters: 3,
      });
      const admin = await connectAs(root);
      admin.send({ type: 'subscribe', groupId: northGroup });
      expect(await admin.next('subscribed')).toMatchObject({ meters: 2 });

      const ts = Date.now();
      await first.readingCache.applyReadings([reading('B1000001', 1, ts), reading('B2000002', 2, ts)]);
      await first.readingCache.publishEvents([
        { meterId: 'B1000001', meterGroup: 'north', kind: 'tamper', ts, details: {} },
      ]);
      await first.readingCache.applyReadings([
        reading('A1000001', 3, ts + 1),
        reading('A3000003', 4, ts + 1),
      ]);
      await admin.next('update', (m) => m.readings.some((r) => r.meterId === 'A1000001'));
      await client.next('update', (m) => m.readings.some((r) => r.meterId === 'A3000003'));
      const seen = updates(client).flatMap((m) => [...m.readings, ...m.events].map((item) => item.meterId));
      expect(new Set(seen)).toEqual(new Set(['A1000001', 'A3000003']));
      const adminSeen = updates(admin).flatMap((m) =>
        [...m.readings, ...m.events].map((item) => item.meterId),
      );
      expect(new Set(adminSeen)).toEqual(new Set(['A1000001', 'B1000001']));
    });

    it("backfills a group subscription with the caller's meters only", async () => {
      // Two days back, out of the way of the other tests' backfill windows.
      const now = Date.now() - 2 * 86_400_000;
      await new ReadingWriter(first.pool).write(
        ['A1000001', 'B1000001'].map((meterId) => ({
          meterId,
          ts: new Date(now - 5_000),
          quantity: 'battery_v',
          storage: 0,
          tariff: 0,
          unit: 'V',
          value: 3.6,
          source: 'gateway',
        })),
      );
      await first.pool.query(
        `INSERT INTO events (meter_id, ts, kind) VALUES ('A1000001', $1, 'low_battery'), ('B1000001', $1, 'low_battery')`,
        [new Date(now - 5_000)],
      );
      const client = await connectAs(viewerA);
      client.send({ type: 'subscribe', groupId: northGroup, since: new Date(now - 6_000).toISOString() });
      const backfill = await client.next('backfill', (m) => m.complete !== undefined);
      expect(backfill.readings.map((r) => [r.meterId, r.quantity])).toEqual([['A1000001', 'battery_v']]);
      expect(backfill.events.map((e) => [e.meterId, e.kind])).toEqual([['A1000001', 'low_battery']]);
    });

    it('ends a meter subscription when subscribing again finds the meter gone from the tenant', async () => {
      const client = await connectAs(viewerA);
      client.send({ type: 'subscribe', meterId: 'A2000002' });
      await client.next('subscribed');
      await first.pool.query(`UPDATE meters SET society_id = $1 WHERE meter_id = 'A2000002'`, [societyB]);
      try {
        client.send({ type: 'subscribe', meterId: 'A2000002' });
        expect(await client.next('unsubscribed')).toEqual({
          type: 'unsubscribed',
          subscription: 'meter:A2000002',
        });
        expect((await client.next('error')).error.message).toBe('meter not found');
        await first.readingCache.applyReadings([reading('A2000002', 9, Date.now())]);
        client.send({ type: 'subscribe', meterId: 'A3000003' });
        await client.next('subscribed', (m) => m.subscription === 'meter:A3000003');
        await first.readingCache.applyReadings([reading('A3000003', 1, Date.now())]);
        await client.next('update');
        expect(updates(client).flatMap((m) => m.readings.map((r) => r.meterId))).toEqual(['A3000003']);
      } finally {
        await first.pool.query(`UPDATE meters SET society_id = $1 WHERE meter_id = 'A2000002'`, [societyA]);
      }
    });

    it('ends a meter subscription when the meter moves to another tenant', async () => {
      const client = await connectAs(viewerA);
      client.send({ type: 'subscribe', meterId: 'A2000002' });
      await client.next('subscribed');
      await first.pool.query(`UPDATE meters SET society_id = $1 WHERE meter_id = 'A2000002'`, [societyB]);
      try {
        await first.app.get<LiveConnectionContext>(LIVE_CONTEXT).hub.refresh();
        expect(await client.next('unsubscribed')).toEqual({
          type: 'unsubscribed',
          subscription: 'meter:A2000002',
          reason: 'meter not found',
        });
        await first.readingCache.applyReadings([reading('A2000002', 9, Date.now())]);
        const sentinel = Date.now();
        client.send({ type: 'subscribe', meterId: 'A3000003' });
        await client.next('subscribed', (m) => m.subscription === 'meter:A3000003');
        await first.readingCache.applyReadings([reading('A3000003', 1, sentinel)]);
        await client.next('update');
        expect(updates(client).flatMap((m) => m.readings.map((r) => r.meterId))).toEqual(['A3000003']);
      } finally {
        await first.pool.query(`UPDATE meters SET society_id = $1 WHERE meter_id = 'A2000002'`, [societyA]);
      }
    });
  });

  it('coalesces to the latest value per meter+quantity at the configured message rate, never dropping events', async () => {
    const client = await connectAs(viewerA);
    client.send({ type: 'subscribe', meterId: 'A3000003' });
    await client.next('subscribed');
    const start = Date.now();
    const published = 40;
    for (let i = 1; i <= published; i++) {
      await first.readingCache.applyReadings([
        reading('A3000003', i, start + i),
        reading('A3000003', 100 + i, start + i, 'flow_temperature_c'),
      ]);
      if (i % 10 === 0)
        await first.readingCache.publishEvents([
          { meterId: 'A3000003', meterGroup: 'default', kind: 'leak', ts: start + i, details: {} },
        ]);
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    const last = await client.next('update', (m) =>
      m.readings.some((r) => r.quantity === 'total_m3' && r.value === published),
    );
    const elapsedS = (Date.now() - start) / 1000;
    await client.next('update', (m) =>
      m.events.some((e) => e.ts === new Date(start + published).toISOString()),
    );
    const received = updates(client);
    // One flush may go out at once, then at most maxMessagesPerSecond per second.
    expect(received.length).toBeLessThanOrEqual(1 + Math.ceil(elapsedS * MAX_MESSAGES_PER_SECOND));
    expect(received.length).toBeLessThan(published);
    expect(last.readings.find((r) => r.quantity === 'flow_temperature_c')?.value).toBe(100 + published);
    for (const message of received) {
      const quantities = message.readings.map((r) => r.quantity);
      expect(new Set(quantities).size).toBe(quantities.length);
    }
    expect(received.flatMap((m) => m.events).length).toBe(published / 10);
    const metrics = (await first.http().get('/metrics').expect(200)).text;
    expect(metrics).toMatch(/hes_ws_readings_coalesced_total\{app="api"\} [1-9]/);
  });

  it('fills the gap since a timestamp from the database, then continues live without duplicates', async () => {
    const now = Date.now();
    const stored = [50, 40, 30, 20, 10].map((ageS, i) => ({
      meterId: 'A1000001',
      ts: new Date(now - ageS * 1000),
      quantity: 'volume_flow_m3h',
      storage: 0,
      tariff: 0,
      unit: 'm3/h',
      value: i,
      source: 'gateway',
    }));
    await new ReadingWriter(first.pool).write(stored);
    await first.pool.query(
      `INSERT INTO events (meter_id, ts, kind, details) VALUES ('A1000001', $1, 'burst', '{"lpm": 90}')`,
      [new Date(now - 25_000)],
    );

    // Hold the backfill's events query so that live readings published meanwhile meet the seam: one the
    // backfill also carries (stored, then published late) and one it does not.
    const locker = await first.pool.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
    const client = await connectAs(viewerA);
    try {
      client.send({ type: 'subscribe', meterId: 'A1000001', since: new Date(now - 45_000).toISOString() });
      await client.next('subscribed');
      await first.readingCache.applyReadings([
        { ...reading('A1000001', 3, now - 20_000, 'volume_flow_m3h'), unit: 'm3/h' },
        reading('A1000001', 77, now),
      ]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(client.messages.filter((m) => m.type === 'backfill' || m.type === 'update')).toEqual([]);
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
    const backfill = await client.next('backfill', (m) => m.complete !== undefined);
    // backfillLimit is 3: the oldest three of the four readings after `since`, flagged as truncated.
    expect(backfill.readings.map((r) => r.value)).toEqual([1, 2, 3]);
    expect(backfill.readings[0]).toEqual({
      meterId: 'A1000001',
      quantity: 'volume_flow_m3h',
      storage: 0,
      tariff: 0,
      unit: 'm3/h',
      value: 1,
      ts: new Date(now - 40_000).toISOString(),
    });
    expect(backfill.events).toEqual([
      { meterId: 'A1000001', kind: 'burst', ts: new Date(now - 25_000).toISOString(), details: { lpm: 90 } },
    ]);
    expect(backfill.complete).toEqual({ readings: 3, events: 1, truncated: true });
    const update = await client.next('update');
    expect(client.messages.indexOf(update)).toBeGreaterThan(client.messages.indexOf(backfill));
    expect(update.readings).toEqual([expect.objectContaining({ quantity: 'total_m3', value: 77 })]);
  });

  it('closes a client that stops reading once its unsent buffer passes the bound (4008, slow consumer)', async () => {
    const token = (await login(second, 'viewer-a@example.org')).accessToken;
    const slow = await connectAs(token, secondUrl);
    slow.send({ type: 'subscribe', meterId: 'A3000003' });
    await slow.next('subscribed');
    // Stop reading from the TCP socket: the kernel buffers fill, then the server's WebSocket buffer grows.
    const tcp = (slow.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    tcp.pause();
    const bulky = { note: 'x'.repeat(8_000) };
    const ts = Date.now();
    for (
      let batch = 0;
      batch < 60 && (await second.http().get('/metrics')).text.match(/slow_consumer"[^\n]* [1-9]/) === null;
      batch++
    ) {
      await first.readingCache.publishEvents(
        Array.from({ length: 100 }, (_, i) => ({
          meterId: 'A3000003',
          meterGroup: 'default',
          kind: 'leak',
          ts: ts + batch * 100 + i,
          details: bulky,
        })),
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    tcp.resume();
    expect(await slow.closed).toEqual({
      code: CLOSE_CODES.slowConsumer,
      reason: 'slow consumer: more than 65536 bytes unsent',
    });
  });

  it('fans out through Redis: two API instances both deliver one publish', async () => {
    const onFirst = await connectAs(viewerA, firstUrl);
    // Each harness signs its own access tokens: log in on the second instance for a token it accepts.
    const onSecond = await connectAs((await login(second, 'viewer-a@example.org')).accessToken, secondUrl);
    for (const client of [onFirst, onSecond]) {
      client.send({ type: 'subscribe', meterId: 'A3000003' });
      await client.next('subscribed');
    }
    const ts = Date.now() + 60_000;
    await first.readingCache.applyReadings([reading('A3000003', 555, ts)]);
    for (const client of [onFirst, onSecond]) {
      const update = await client.next('update');
      expect(update.readings).toEqual([expect.objectContaining({ meterId: 'A3000003', value: 555 })]);
    }
  });
  it('tells subscribers when the Redis feed was interrupted, and delivers again once it is back', async () => {
    const onFirst = await connectAs(viewerA, firstUrl);
    const onSecond = await connectAs((await login(second, 'viewer-a@example.org')).accessToken, secondUrl);
    for (const client of [onFirst, onSecond]) {
      client.send({ type: 'subscribe', meterId: 'A3000003' });
      await client.next('subscribed');
    }
    const clientList = (await first.redis.client('LIST')) as string;
    const subscriberName = `hes-live-${first.readingCache.keys.prefix}`;
    const ids = clientList
      .split('\n')
      .filter((line) => line.includes(` name=${subscriberName} `))
      .map((line) => /^id=(\d+)/.exec(line)![1]);
    // Both instances subscribe under the same prefix; interrupt them both.
    expect(ids).toHaveLength(2);
    for (const id of ids) await first.redis.client('KILL', 'ID', id);
    for (const client of [onFirst, onSecond]) {
      expect((await client.next('error')).error).toEqual({
        code: 'live_interrupted',
        message:
          'the live feed was interrupted; subscribe again with since (the newest ts received) to fill the gap',
        details: [],
      });
    }
    await first.readingCache.applyReadings([reading('A3000003', 808, Date.now() + 120_000)]);
    for (const client of [onFirst, onSecond])
      expect((await client.next('update')).readings).toEqual([expect.objectContaining({ value: 808 })]);
  });
});
