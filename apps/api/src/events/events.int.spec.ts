/**
 * Events and the not-heard alarm on the real app and database: filters, stable newest-first pagination,
 * acknowledgement (who, when, note; twice is 409; viewers and API keys 403) and tenant isolation (B's events,
 * meters and society answer 404 to A, and never appear in A's lists).
 */
import { generateApiKey, hashApiKey } from '@hes/keys';
import { createMeter, createUser, login, startHarness, type ApiHarness } from '../test-harness';

jest.setTimeout(60_000);

type Harness = ApiHarness & { close(): Promise<void> };

interface EventBody {
  id: string;
  meterId: string;
  ts: string;
  kind: string;
  acknowledged: boolean;
  acknowledgement: { by: string; at: string; note: string | null } | null;
}

const T0 = Date.UTC(2026, 10, 20, 12);
const iso = (offsetMinutes: number) => new Date(T0 + offsetMinutes * 60_000).toISOString();

describe('events and alarms', () => {
  let harness: Harness;
  let societyA: string;
  let societyB: string;
  let adminA: string;
  let operatorA: string;
  let operatorAId: string;
  let viewerA: string;
  let adminB: string;
  let root: string;
  let readKeyA: string;
  const eventsA: string[] = [];
  let eventB: string;

  const as = (credential: string) => {
    const authorise = <T extends { set(name: string, value: string): T }>(test: T) =>
      credential.startsWith('hesgw_')
        ? test.set('X-API-Key', credential)
        : test.set('Authorization', `Bearer ${credential}`);
    return {
      get: (url: string) => authorise(harness.http().get(`/api/v1${url}`)),
      post: (url: string, body: object = {}) => authorise(harness.http().post(`/api/v1${url}`)).send(body),
    };
  };

  async function insertEvent(meterId: string, offsetMinutes: number, kind: string): Promise<string> {
    const result = await harness.pool.query<{ id: string }>(
      `INSERT INTO events (meter_id, ts, kind, details) VALUES ($1, $2, $3, $4) RETURNING id::text AS id`,
      [meterId, new Date(T0 + offsetMinutes * 60_000), kind, { source: 'test' }],
    );
    return result.rows[0].id;
  }

  beforeAll(async () => {
    harness = await startHarness();
    const societies = await harness.pool.query<{ id: string }>(
      `INSERT INTO societies (name) VALUES ('Events A'), ('Events B') RETURNING id`,
    );
    [societyA, societyB] = societies.rows.map((row) => row.id);
    for (const meterId of ['EA000001', 'EA000002', 'EA000003'])
      await createMeter(harness.pool, meterId, societyA);
    await createMeter(harness.pool, 'EB000001', societyB);
    await createMeter(harness.pool, 'EB000002', societyB);
    await createUser(harness.pool, 'admin-a@example.org', [{ societyId: societyA, role: 'society_admin' }]);
    operatorAId = await createUser(harness.pool, 'operator-a@example.org', [
      { societyId: societyA, role: 'field_operator' },
    ]);
    await createUser(harness.pool, 'viewer-a@example.org', [{ societyId: societyA, role: 'viewer' }]);
    await createUser(harness.pool, 'admin-b@example.org', [{ societyId: societyB, role: 'society_admin' }]);
    await createUser(harness.pool, 'root@example.org', [{ societyId: null, role: 'platform_admin' }]);
    [adminA, operatorA, viewerA, adminB, root] = await Promise.all(
      ['admin-a', 'operator-a', 'viewer-a', 'admin-b', 'root'].map(
        async (name) => (await login(harness, `${name}@example.org`)).accessToken,
      ),
    );
    readKeyA = generateApiKey();
    await harness.pool.query(
      `INSERT INTO api_keys (society_id, name, scope, key_hash) VALUES ($1, 'billing', 'read', $2)`,
      [societyA, hashApiKey(readKeyA)],
    );
    // Three events share one timestamp, so the cursor must order by id within it.
    eventsA.push(await insertEvent('EA000001', 0, 'leak'));
    eventsA.push(await insertEvent('EA000001', 10, 'burst'));
    eventsA.push(await insertEvent('EA000002', 10, 'leak'));
    eventsA.push(await insertEvent('EA000003', 10, 'low_battery'));
    eventsA.push(await insertEvent('EA000002', 20, 'tamper'));
    eventB = await insertEvent('EB000001', 15, 'leak');
    await insertEvent('FFFF0001', 5, 'key_missing');
  });
  afterAll(async () => {
    await harness?.close();
  });

  it("lists only the caller's events, newest first, and pages through them without gaps or repeats", async () => {
    const all = (await as(adminA).get('/events').expect(200)).body as {
      items: EventBody[];
      nextCursor: null;
    };
    expect(all.items.map((event) => event.id)).toEqual([
      eventsA[4],
      eventsA[3],
      eventsA[2],
      eventsA[1],
      eventsA[0],
    ]);
    expect(all.nextCursor).toBeNull();
    expect(all.items[0]).toMatchObject({
      meterId: 'EA000002',
      societyId: societyA,
      ts: iso(20),
      kind: 'tamper',
      details: { source: 'test' },
      acknowledged: false,
      acknowledgement: null,
    });

    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? '' : `&cursor=${cursor}`;
      const page = (await as(adminA).get(`/events?limit=2${query}`).expect(200)).body as {
        items: EventBody[];
        nextCursor: string | null;
      };
      expect(page.items.length).toBeLessThanOrEqual(2);
      paged.push(...page.items.map((event) => event.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(paged).toEqual(all.items.map((event) => event.id));

    const everything = (await as(root).get('/events').expect(200)).body.items as EventBody[];
    expect(everything.map((event) => event.meterId)).toEqual(
      expect.arrayContaining(['EB000001', 'FFFF0001', 'EA000001']),
    );
    expect(everything).toHaveLength(7);
  });

  it('filters by meter (any case), kind, time range, society and acknowledgement', async () => {
    const ids = async (query: string) =>
      ((await as(adminA).get(`/events?${query}`).expect(200)).body.items as EventBody[]).map((e) => e.id);
    expect(await ids('meterId=ea000002')).toEqual([eventsA[4], eventsA[2]]);
    expect(await ids('kind=leak')).toEqual([eventsA[2], eventsA[0]]);
    expect(await ids(`from=${iso(10)}&to=${iso(20)}`)).toEqual([eventsA[3], eventsA[2], eventsA[1]]);
    expect(await ids(`societyId=${societyA}&kind=tamper`)).toEqual([eventsA[4]]);
    expect(await ids('acknowledged=true')).toEqual([]);
    expect(await ids('acknowledged=false')).toHaveLength(5);
  });

  it('refuses malformed filters with field-level errors', async () => {
    const fields = async (query: string) =>
      ((await as(adminA).get(`/events?${query}`).expect(400)).body.error.details as { field: string }[]).map(
        (detail) => detail.field,
      );
    expect(await fields('kind=flood&limit=0&acknowledged=maybe')).toEqual(
      expect.arrayContaining(['kind', 'limit', 'acknowledged']),
    );
    expect(await fields('meterId=XYZ')).toEqual(['meterId']);
    expect(await fields('from=yesterday')).toEqual(['from']);
    expect(await fields('cursor=bm90LWEtY3Vyc29y')).toEqual(['cursor']);
    expect(await fields('colour=red')).toEqual(['colour']);
    const badId = await as(adminA).get('/events/abc').expect(400);
    expect(badId.body.error.details).toEqual([{ field: 'id', message: 'must be a positive integer' }]);
  });

  it("answers 404 for B's events, meters and society exactly like for missing ones", async () => {
    const missing = await as(adminA).get('/events/999999999').expect(404);
    const foreign = await as(adminA).get(`/events/${eventB}`).expect(404);
    expect(foreign.body).toEqual(missing.body);
    await as(adminA)
      .get(
        '/events/' +
          (await harness.pool.query(`SELECT id FROM events WHERE meter_id = 'FFFF0001'`)).rows[0].id,
      )
      .expect(404);
    const foreignMeter = await as(adminA).get('/events?meterId=EB000001').expect(404);
    const missingMeter = await as(adminA).get('/events?meterId=0BADBEEF').expect(404);
    expect(foreignMeter.body).toEqual(missingMeter.body);
    await as(adminA).get(`/events?societyId=${societyB}`).expect(404);
    await as(adminA).post(`/events/${eventB}/acknowledge`, {}).expect(404);
    const theirs = (await as(adminB).get('/events').expect(200)).body.items as EventBody[];
    expect(theirs.map((event) => event.id)).toEqual([eventB]);
  });

  it('acknowledges once with who, when and note; a second acknowledgement is 409 naming who', async () => {
    const viewer = await as(viewerA).post(`/events/${eventsA[0]}/acknowledge`, {}).expect(403);
    expect(viewer.body.error.code).toBe('forbidden');
    await as(readKeyA).post(`/events/${eventsA[0]}/acknowledge`, {}).expect(403);
    await as(operatorA).post(`/events/${eventsA[0]}/acknowledge`, { note: '', extra: 1 }).expect(400);

    const before = Date.now();
    const acknowledged = (
      await as(operatorA).post(`/events/${eventsA[0]}/acknowledge`, { note: 'valve closed' }).expect(200)
    ).body as EventBody;
    expect(acknowledged).toMatchObject({
      id: eventsA[0],
      acknowledged: true,
      acknowledgement: { by: `user:${operatorAId}`, note: 'valve closed' },
    });
    expect(Date.parse(acknowledged.acknowledgement!.at)).toBeGreaterThanOrEqual(before - 1000);

    const again = await as(adminA).post(`/events/${eventsA[0]}/acknowledge`, {}).expect(409);
    expect(again.body.error.code).toBe('already_acknowledged');
    expect(again.body.error.message).toContain(`user:${operatorAId}`);
    expect(again.body.error.details).toEqual([
      { field: 'acknowledgedBy', message: `user:${operatorAId}` },
      { field: 'acknowledgedAt', message: acknowledged.acknowledgement!.at },
    ]);

    const read = (await as(readKeyA).get(`/events/${eventsA[0]}`).expect(200)).body as EventBody;
    expect(read.acknowledgement).toEqual(acknowledged.acknowledgement);
    const open = (
      (await as(adminA).get('/events?acknowledged=true').expect(200)).body.items as EventBody[]
    ).map((event) => event.id);
    expect(open).toEqual([eventsA[0]]);
  });

  it('reports meters not heard for N hours, never-heard ones flagged, only within the tenant', async () => {
    const now = Date.now();
    await harness.pool.query(
      `INSERT INTO meter_status (meter_id, last_seen_at, last_rssi_dbm, last_source, last_gateway_id, status_flags)
       VALUES ('EA000001', $1, -71, 'gateway', 'gw-1', '{}'), ('EA000002', $2, -90, 'gateway', 'gw-2', '{low_battery}'),
              ('EB000002', $2, -80, 'gateway', 'gw-9', '{}')`,
      [new Date(now - 2 * 3_600_000), new Date(now - 48 * 3_600_000)],
    );
    const page = (await as(viewerA).get('/alarms/not-heard?hours=24').expect(200)).body as {
      items: {
        meterId: string;
        neverHeard: boolean;
        hoursSinceSeen: number | null;
        lastGatewayId: string | null;
      }[];
      since: string;
      nextCursor: string | null;
    };
    expect(page.items).toEqual([
      expect.objectContaining({
        meterId: 'EA000002',
        societyId: societyA,
        neverHeard: false,
        lastRssiDbm: -90,
        lastGatewayId: 'gw-2',
        statusFlags: ['low_battery'],
      }),
      expect.objectContaining({
        meterId: 'EA000003',
        neverHeard: true,
        lastSeenAt: null,
        hoursSinceSeen: null,
      }),
    ]);
    expect(page.items[0].hoursSinceSeen).toBeCloseTo(48, 0);
    expect(Math.abs(Date.parse(page.since) - (now - 24 * 3_600_000))).toBeLessThan(60_000);

    const recent = (await as(adminA).get('/alarms/not-heard?hours=1&limit=1').expect(200)).body;
    expect(recent.items.map((item: { meterId: string }) => item.meterId)).toEqual(['EA000001']);
    const next = (
      await as(adminA).get(`/alarms/not-heard?hours=1&limit=1&cursor=${recent.nextCursor}`).expect(200)
    ).body;
    expect(next.items.map((item: { meterId: string }) => item.meterId)).toEqual(['EA000002']);

    await as(adminA).get(`/alarms/not-heard?societyId=${societyB}`).expect(404);
    const forB = (await as(adminB).get('/alarms/not-heard?hours=24').expect(200)).body.items;
    expect(forB.map((item: { meterId: string }) => item.meterId)).toEqual(['EB000001', 'EB000002']);
    await as(adminA).get('/alarms/not-heard?hours=0').expect(400);
  });
});
