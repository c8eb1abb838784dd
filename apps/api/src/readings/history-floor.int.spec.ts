/**
 * A meter's history is visible only to the society that owned it (meters.history_from, kept by the triggers of
 * db/migrations/20261124140000000_meter-history-floor.js), over the real stack: when society A's meter is deleted
 * and society B registers the same radio id, or a platform admin moves it from A to B, B sees none of what the
 * meter reported before (raw readings, aggregates, consumption, latest values from Redis and from the database,
 * last sighting, events, commands, WebSocket backfill) and everything it reports from then on. A society that
 * registers its own meter again sees its old history.
 */
import type { CachedReading } from '@hes/cache';
import { ReadingWriter, type Reading } from '@hes/storage';
import { createMeter, createUser, login, startHarness, type ApiHarness } from '../test-harness';
import { LiveTestClient } from '../live/live-test-client';
import type { ServerMessage } from '../live/live-protocol';

jest.setTimeout(60_000);

const HOUR = 3_600_000;
/** A's readings: hourly on 2026-11-20 from 08:00 UTC, well before any floor the tests set (today). */
const A_FROM = Date.UTC(2026, 10, 20, 8, 0, 0);
const A_PERIOD = { from: '2026-11-20T00:00:00Z', to: '2026-11-21T00:00:00Z' };

const reading = (meterId: string, tsMs: number, value: number, quantity = 'total_m3'): Reading => ({
  meterId,
  ts: new Date(tsMs),
  quantity,
  storage: 0,
  tariff: 0,
  unit: 'm3',
  value,
  source: 'gateway',
});

const cached = (r: Reading): CachedReading => ({
  meterId: r.meterId,
  meterGroup: 'default',
  quantity: r.quantity,
  unit: r.unit,
  value: r.value,
  ts: r.ts.getTime(),
});

describe('meter history floor', () => {
  let harness: ApiHarness;
  let wsUrl: string;
  let societyA: string;
  let societyB: string;
  let adminA: string;
  let adminB: string;
  let root: string;
  const as = (token: string) => ({
    get: (url: string) => harness.http().get(`/api/v1${url}`).auth(token, { type: 'bearer' }),
    post: (url: string) => harness.http().post(`/api/v1${url}`).auth(token, { type: 'bearer' }),
    patch: (url: string) => harness.http().patch(`/api/v1${url}`).auth(token, { type: 'bearer' }),
    delete: (url: string) => harness.http().delete(`/api/v1${url}`).auth(token, { type: 'bearer' }),
  });

  beforeAll(async () => {
    harness = await startHarness();
    await harness.app.listen(0, '127.0.0.1');
    wsUrl = `ws://127.0.0.1:${harness.app.getHttpServer().address().port}/api/v1/ws`;
    const { pool } = harness;
    [societyA, societyB] = (
      await pool.query<{ id: string }>(`INSERT INTO societies (name) VALUES ('A'), ('B') RETURNING id`)
    ).rows.map((row) => row.id);
    await createUser(pool, 'admin-a@example.org', [{ societyId: societyA, role: 'society_admin' }]);
    await createUser(pool, 'admin-b@example.org', [{ societyId: societyB, role: 'society_admin' }]);
    await createUser(pool, 'root@example.org', [{ societyId: null, role: 'platform_admin' }]);
    adminA = (await login(harness, 'admin-a@example.org')).accessToken;
    adminB = (await login(harness, 'admin-b@example.org')).accessToken;
    root = (await login(harness, 'root@example.org')).accessToken;
  });

  afterAll(async () => {
    await harness?.close();
  });

  /**
   * Society A's meter with six hourly register readings (Redis holds the newest), a last sighting, an event
   * and a command, all of 2026-11-20.
   */
  async function historyOfA(meterId: string): Promise<{ eventId: string; commandId: string }> {
    const { pool } = harness;
    await createMeter(pool, meterId, societyA);
    const readings = Array.from({ length: 6 }, (_, i) => reading(meterId, A_FROM + i * HOUR, 100 + i));
    await new ReadingWriter(pool).write(readings);
    await harness.readingCache.applyReadings(readings.map(cached), A_FROM + 6 * HOUR);
    await pool.query(
      `INSERT INTO meter_status (meter_id, last_seen_at, last_rssi_dbm, last_source) VALUES ($1, $2, -70, 'gateway')`,
      [meterId, new Date(A_FROM + 5 * HOUR)],
    );
    const eventId = (
      await pool.query<{ id: string }>(
        `INSERT INTO events (meter_id, ts, kind) VALUES ($1, $2, 'leak') RETURNING id::text`,
        [meterId, new Date(A_FROM + 2 * HOUR)],
      )
    ).rows[0].id;
    const commandId = (
      await pool.query<{ id: string }>(
        `INSERT INTO meter_commands (meter_id, society_id, kind, params, requested_by, requested_at)
         VALUES ($1, $2, 'read_request', '{}', 'admin-a@example.org', $3) RETURNING id`,
        [meterId, societyA, new Date(A_FROM + 3 * HOUR)],
      )
    ).rows[0].id;
    return { eventId, commandId };
  }

  async function registerAs(token: string, meterId: string, societyId: string): Promise<void> {
    await as(token)
      .post('/meters')
      .send({ meterId, manufacturer: 'KAM', deviceType: 7, version: 27, societyId })
      .expect(201);
  }

  /** The WebSocket backfill of one meter since `since`: its readings and events. */
  async function backfill(token: string, meterId: string, since: string) {
    const client = await LiveTestClient.connect(wsUrl, { Authorization: `Bearer ${token}` });
    try {
      await client.next('authenticated');
      client.send({ type: 'subscribe', meterId, since });
      const message = await client.next('backfill', (m) => m.complete !== undefined);
      const messages = client.messages.filter(
        (m): m is Extract<ServerMessage, { type: 'backfill' }> => m.type === 'backfill',
      );
      expect(message.complete).toBeDefined();
      return {
        readings: messages.flatMap((m) => m.readings),
        events: messages.flatMap((m) => m.events),
      };
    } finally {
      client.socket.close();
      await client.closed;
    }
  }

  /** Everything B can read of the meter shows none of A's history. */
  async function expectNoneOfAsHistory(
    token: string,
    meterId: string,
    ids: { eventId: string; commandId: string },
  ) {
    const raw = await as(token).get(`/meters/${meterId}/readings`).query(A_PERIOD).expect(200);
    expect(raw.body.items).toEqual([]);
    const hours = await as(token)
      .get(`/meters/${meterId}/aggregates`)
      .query({ ...A_PERIOD, interval: '1h' })
      .expect(200);
    expect(hours.body.series).toEqual([]);
    const consumption = await as(token)
      .get(`/meters/${meterId}/consumption`)
      .query({ from: '2026-11-20T10:00:00Z', to: '2026-11-20T12:00:00Z' })
      .expect(200);
    expect(consumption.body).toMatchObject({ start: null, end: null, delta: null, flags: ['no_readings'] });
    const society = await as(token)
      .get(`/societies/${societyB}/consumption`)
      .query({ from: '2026-11-20T10:00:00Z', to: '2026-11-20T12:00:00Z' })
      .expect(200);
    expect(society.body.items.find((item: { meterId: string }) => item.meterId === meterId)).toMatchObject({
      start: null,
      end: null,
      flags: ['no_readings'],
    });

    // Redis still holds A's newest value; it is older than the floor and dropped.
    expect((await harness.readingCache.getLatest(meterId)).total_m3).toBeDefined();
    const latest = await as(token).get(`/meters/${meterId}/latest`).expect(200);
    expect(latest.body.values).toEqual([]);
    const detail = await as(token).get(`/meters/${meterId}`).expect(200);
    expect(detail.body).toMatchObject({ lastSeenAt: null, latestValues: [] });
    const list = await as(token).get('/meters').query({ search: meterId }).expect(200);
    expect(list.body.items).toMatchObject([{ meterId, lastSeenAt: null }]);

    const events = await as(token).get('/events').query({ meterId }).expect(200);
    expect(events.body.items).toEqual([]);
    await as(token).get(`/events/${ids.eventId}`).expect(404);
    const commands = await as(token).get(`/meters/${meterId}/commands`).expect(200);
    expect(commands.body.items).toEqual([]);
    await as(token).get(`/commands/${ids.commandId}`).expect(404);

    expect(await backfill(token, meterId, '2026-11-19T00:00:00Z')).toEqual({ readings: [], events: [] });
  }

  /** A reading, an event and a command of B after the floor; B sees them. */
  async function expectOwnHistory(token: string, meterId: string, floorMs: number) {
    const { pool } = harness;
    const ts = floorMs + 1_000;
    const fresh = reading(meterId, ts, 7);
    await new ReadingWriter(pool).write([fresh]);
    await pool.query(`INSERT INTO events (meter_id, ts, kind) VALUES ($1, $2, 'burst')`, [
      meterId,
      new Date(ts),
    ]);
    const period = {
      from: new Date(floorMs - HOUR).toISOString(),
      to: new Date(floorMs + HOUR).toISOString(),
    };
    const iso = new Date(ts).toISOString();

    const raw = await as(token).get(`/meters/${meterId}/readings`).query(period).expect(200);
    expect(raw.body.items).toMatchObject([{ ts: iso, quantity: 'total_m3', value: 7 }]);
    const halfHours = await as(token)
      .get(`/meters/${meterId}/aggregates`)
      .query({ ...period, interval: '30m' })
      .expect(200);
    expect(halfHours.body.series).toMatchObject([
      { quantity: 'total_m3', buckets: [{ first: 7, count: 1 }] },
    ]);
    const consumption = await as(token).get(`/meters/${meterId}/consumption`).query(period).expect(200);
    expect(consumption.body).toMatchObject({
      start: { ts: iso, value: 7, afterBoundary: true },
      end: { ts: iso },
    });

    // The database fallback (nothing in Redis for the meter) and Redis answer the same.
    await harness.redis.del(harness.readingCache.keys.latest(meterId));
    const fromDatabase = await as(token).get(`/meters/${meterId}/latest`).expect(200);
    expect(fromDatabase.body.values).toMatchObject([{ quantity: 'total_m3', value: 7, ts: iso }]);
    await harness.readingCache.applyReadings([cached(fresh)], ts);
    const fromRedis = await as(token).get(`/meters/${meterId}/latest`).expect(200);
    expect(fromRedis.body.values).toEqual(fromDatabase.body.values);

    const events = await as(token).get('/events').query({ meterId }).expect(200);
    expect(events.body.items).toMatchObject([{ meterId, kind: 'burst', ts: iso }]);
    const live = await backfill(token, meterId, '2026-11-19T00:00:00Z');
    expect(live.readings).toMatchObject([{ meterId, value: 7, ts: iso }]);
    expect(live.events).toMatchObject([{ meterId, kind: 'burst', ts: iso }]);
  }

  const floorOf = async (meterId: string) =>
    (
      await harness.pool.query<{ history_from: Date | null }>(
        'SELECT history_from FROM meters WHERE meter_id = $1',
        [meterId],
      )
    ).rows[0].history_from;

  it('society B registering a meter id A deleted sees none of A’s history, and its own from then on', async () => {
    const ids = await historyOfA('CCCC0001');
    // Before the delete, A sees its history (the floor is not in the way of an owner).
    const before = await as(adminA).get('/meters/CCCC0001/readings').query(A_PERIOD).expect(200);
    expect(before.body.items).toHaveLength(6);

    await as(adminA).delete('/meters/CCCC0001').expect(204);
    await registerAs(adminB, 'CCCC0001', societyB);
    const floor = await floorOf('CCCC0001');
    expect(floor).not.toBeNull();

    await expectNoneOfAsHistory(adminB, 'CCCC0001', ids);
    await expectOwnHistory(adminB, 'CCCC0001', floor!.getTime());
  });

  it('a platform admin moving a meter from A to B hides A’s history from B, and from A too', async () => {
    const ids = await historyOfA('CCCC0002');
    await as(root).patch('/meters/CCCC0002').send({ societyId: societyB }).expect(200);
    const floor = await floorOf('CCCC0002');
    expect(floor).not.toBeNull();

    await as(adminA).get('/meters/CCCC0002/readings').query(A_PERIOD).expect(404);
    await expectNoneOfAsHistory(adminB, 'CCCC0002', ids);
    // The floor is the meter's, not the caller's: the platform admin sees the same as the owner.
    const raw = await as(root).get('/meters/CCCC0002/readings').query(A_PERIOD).expect(200);
    expect(raw.body.items).toEqual([]);
    const commands = await as(root).get('/meters/CCCC0002/commands').expect(200);
    expect(commands.body.items).toEqual([]);
    await as(root).get(`/events/${ids.eventId}`).expect(404);
    await expectOwnHistory(adminB, 'CCCC0002', floor!.getTime());
  });

  it('live updates of a moved meter leave out late readings and events older than its floor', async () => {
    await historyOfA('CCCC0005');
    await as(root).patch('/meters/CCCC0005').send({ societyId: societyB }).expect(200);
    const floorMs = (await floorOf('CCCC0005'))!.getTime();
    const client = await LiveTestClient.connect(wsUrl, { Authorization: `Bearer ${adminB}` });
    try {
      await client.next('authenticated');
      client.send({ type: 'subscribe', meterId: 'CCCC0005' });
      await client.next('subscribed');
      // A telegram of A's time arriving late (a handheld upload, say), in the same batches as B's.
      const late = reading('CCCC0005', A_FROM + 7 * HOUR, 106);
      const fresh = reading('CCCC0005', floorMs + 2_000, 8);
      await harness.readingCache.applyReadings([late, fresh].map(cached), floorMs + 2_000);
      await harness.readingCache.publishEvents(
        [late, fresh].map((r) => ({
          meterId: 'CCCC0005',
          meterGroup: 'default',
          kind: 'leak',
          ts: r.ts.getTime(),
          details: {},
        })),
      );
      await client.next('update', (m) => m.events.length > 0);
      const updates = client.messages.filter(
        (m): m is Extract<ServerMessage, { type: 'update' }> => m.type === 'update',
      );
      const freshTs = new Date(floorMs + 2_000).toISOString();
      expect(updates.flatMap((m) => m.readings)).toMatchObject([{ value: 8, ts: freshTs }]);
      expect(updates.flatMap((m) => m.events)).toMatchObject([{ kind: 'leak', ts: freshTs }]);
    } finally {
      client.socket.close();
      await client.closed;
    }
  });

  it('a society registering its own meter again sees its old history', async () => {
    const ids = await historyOfA('CCCC0003');
    await as(adminA).delete('/meters/CCCC0003').expect(204);
    await registerAs(adminA, 'CCCC0003', societyA);
    expect(await floorOf('CCCC0003')).toBeNull();

    const raw = await as(adminA).get('/meters/CCCC0003/readings').query(A_PERIOD).expect(200);
    expect(raw.body.items).toHaveLength(6);
    const latest = await as(adminA).get('/meters/CCCC0003/latest').expect(200);
    expect(latest.body.values).toMatchObject([{ quantity: 'total_m3', value: 105 }]);
    const events = await as(adminA).get('/events').query({ meterId: 'CCCC0003' }).expect(200);
    expect(events.body.items.map((event: { id: string }) => event.id)).toEqual([ids.eventId]);
    // Commands are deleted with their meter (meter_commands cascades), so none come back.
  });

  it('the floor follows the meter id across owners: A → B (deleted) → A again sees only what came after B', async () => {
    await historyOfA('CCCC0004');
    await as(adminA).delete('/meters/CCCC0004').expect(204);
    await registerAs(adminB, 'CCCC0004', societyB);
    const floorOfB = (await floorOf('CCCC0004'))!;
    await as(adminB).delete('/meters/CCCC0004').expect(204);
    await registerAs(adminA, 'CCCC0004', societyA);
    const floorOfA = (await floorOf('CCCC0004'))!;
    // B's departure is the latest from a society other than A.
    expect(floorOfA.getTime()).toBeGreaterThanOrEqual(floorOfB.getTime());
    const raw = await as(adminA).get('/meters/CCCC0004/readings').query(A_PERIOD).expect(200);
    expect(raw.body.items).toEqual([]);
  });
});
