/**
 * Meters over the real API, PostgreSQL and Redis: CRUD with roles, the detail view (key fingerprint, last sighting,
 * latest values), every list filter, cursor pagination that stays stable while meters are added, and tenant
 * isolation on every endpoint.
 */
import { MeterKeyRepository, MeterStatusWriter } from '@hes/storage';
import { createMeter, createUser, login, startHarness, type ApiHarness } from '../test-harness';

jest.setTimeout(60_000);

interface MeterBody {
  meterId: string;
  societyId: string | null;
  [field: string]: unknown;
}

describe('meters API', () => {
  let harness: ApiHarness & { close(): Promise<void> };
  const tokens = { root: '', adminA: '', viewerA: '', operatorA: '', adminB: '' };
  const a = { society: '', tower: '', flat: '', otherTower: '', otherFlat: '' };
  const b = { society: '', tower: '', flat: '' };
  let northGroup = 0;

  const as = (token: string) => ({
    get: (url: string) => harness.http().get(`/api/v1${url}`).auth(token, { type: 'bearer' }),
    post: (url: string, body: object = {}) =>
      harness.http().post(`/api/v1${url}`).auth(token, { type: 'bearer' }).send(body),
    patch: (url: string, body: object = {}) =>
      harness.http().patch(`/api/v1${url}`).auth(token, { type: 'bearer' }).send(body),
    delete: (url: string) => harness.http().delete(`/api/v1${url}`).auth(token, { type: 'bearer' }),
  });

  /** Every meter id of a filtered list, following the cursor to the end. */
  async function listIds(token: string, query: string, limit = 1000): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/meters?limit=${limit}${query ? `&${query}` : ''}${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await as(token).get(url).expect(200)).body as {
        items: MeterBody[];
        nextCursor: string | null;
      };
      ids.push(...page.items.map((item) => item.meterId));
      cursor = page.nextCursor;
    } while (cursor);
    return ids;
  }

  beforeAll(async () => {
    harness = await startHarness();
    await createUser(harness.pool, 'root@example.org', [{ societyId: null, role: 'platform_admin' }]);
    tokens.root = (await login(harness, 'root@example.org')).accessToken;
    const root = as(tokens.root);
    a.society = (await root.post('/societies', { name: 'Society A' }).expect(201)).body.id;
    b.society = (await root.post('/societies', { name: 'Society B' }).expect(201)).body.id;
    a.tower = (await root.post(`/societies/${a.society}/towers`, { name: 'T1' }).expect(201)).body.id;
    a.otherTower = (await root.post(`/societies/${a.society}/towers`, { name: 'T2' }).expect(201)).body.id;
    b.tower = (await root.post(`/societies/${b.society}/towers`, { name: 'T1' }).expect(201)).body.id;
    a.flat = (await root.post(`/towers/${a.tower}/flats`, { name: '101' }).expect(201)).body.id;
    a.otherFlat = (await root.post(`/towers/${a.otherTower}/flats`, { name: '201' }).expect(201)).body.id;
    b.flat = (await root.post(`/towers/${b.tower}/flats`, { name: '101' }).expect(201)).body.id;
    northGroup = (await root.post('/meter-groups', { name: 'north' }).expect(201)).body.id;
    await createUser(harness.pool, 'admin-a@example.org', [{ societyId: a.society, role: 'society_admin' }]);
    await createUser(harness.pool, 'viewer-a@example.org', [{ societyId: a.society, role: 'viewer' }]);
    await createUser(harness.pool, 'operator-a@example.org', [
      { societyId: a.society, role: 'field_operator' },
    ]);
    await createUser(harness.pool, 'admin-b@example.org', [{ societyId: b.society, role: 'society_admin' }]);
    tokens.adminA = (await login(harness, 'admin-a@example.org')).accessToken;
    tokens.viewerA = (await login(harness, 'viewer-a@example.org')).accessToken;
    tokens.operatorA = (await login(harness, 'operator-a@example.org')).accessToken;
    tokens.adminB = (await login(harness, 'admin-b@example.org')).accessToken;
    await createMeter(harness.pool, 'BBBB0001', b.society);
    await createMeter(harness.pool, 'BBBB0002', b.society);
  });

  afterAll(async () => {
    await harness?.close();
  });

  it('creates, reads, updates and deletes a meter with the roles of its society', async () => {
    const adminA = as(tokens.adminA);
    const created = await adminA
      .post('/meters', {
        meterId: 'a1b2c3d4',
        manufacturer: 'kam',
        deviceType: 22,
        version: 27,
        driver: 'kamwater',
        groupId: northGroup,
        installedAt: '2026-03-01',
        location: 'kitchen',
        societyId: a.society,
        flatId: a.flat,
      })
      .expect(201);
    expect(created.body).toEqual(
      expect.objectContaining({
        meterId: 'A1B2C3D4',
        manufacturer: 'KAM',
        deviceType: 22,
        version: 27,
        driver: 'kamwater',
        status: 'active',
        group: { id: northGroup, name: 'north' },
        societyId: a.society,
        towerId: a.tower,
        flatId: a.flat,
        installedAt: '2026-03-01T00:00:00.000Z',
        location: 'kitchen',
        lastSeenAt: null,
        statusFlags: [],
        key: null,
        latestValues: [],
      }),
    );
    expect((await adminA.get('/meters/a1b2c3d4').expect(200)).body).toEqual(created.body);

    // Viewers read but never write; field operators change installation data only.
    await as(tokens.viewerA).get('/meters/A1B2C3D4').expect(200);
    await as(tokens.viewerA).patch('/meters/A1B2C3D4', { location: 'hall' }).expect(403);
    await as(tokens.viewerA).delete('/meters/A1B2C3D4').expect(403);
    const moved = await as(tokens.operatorA)
      .patch('/meters/A1B2C3D4', {
        location: 'hall',
        flatId: a.otherFlat,
        installedAt: '2026-03-02T09:30:00+01:00',
      })
      .expect(200);
    expect(moved.body).toEqual(
      expect.objectContaining({
        location: 'hall',
        towerId: a.otherTower,
        flatId: a.otherFlat,
        installedAt: '2026-03-02T08:30:00.000Z',
      }),
    );
    const refused = await as(tokens.operatorA).patch('/meters/A1B2C3D4', { status: 'inactive', notes: 'x' });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toMatch(/installation data, not status/);
    await as(tokens.operatorA)
      .post('/meters', {
        meterId: 'A1B2C3D5',
        manufacturer: 'KAM',
        deviceType: 22,
        version: 27,
        societyId: a.society,
      })
      .expect(403);

    const updated = await adminA
      .patch('/meters/A1B2C3D4', { status: 'inactive', driver: null, notes: 'replaced soon', groupId: 1 })
      .expect(200);
    expect(updated.body).toEqual(
      expect.objectContaining({
        status: 'inactive',
        driver: null,
        notes: 'replaced soon',
        group: { id: 1, name: 'default' },
      }),
    );
    expect(Date.parse(updated.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.body.updatedAt));

    // An empty change changes nothing and is not audited.
    const unchanged = await adminA.patch('/meters/A1B2C3D4', {}).expect(200);
    expect(unchanged.body.updatedAt).toBe(updated.body.updatedAt);

    const conflict = await adminA
      .post('/meters', {
        meterId: 'A1B2C3D4',
        manufacturer: 'KAM',
        deviceType: 22,
        version: 27,
        societyId: a.society,
      })
      .expect(409);
    expect(conflict.body.error.code).toBe('conflict');

    await adminA.delete('/meters/A1B2C3D4').expect(204);
    await adminA.get('/meters/A1B2C3D4').expect(404);
    await adminA.delete('/meters/A1B2C3D4').expect(404);

    const audit = await harness.pool.query<{ action: string }>(
      `SELECT action FROM audit_log WHERE target = 'meter:A1B2C3D4' ORDER BY id`,
    );
    expect(audit.rows.map((row) => row.action)).toEqual([
      'meter.create',
      'meter.update',
      'meter.update',
      'meter.delete',
    ]);
  });

  it('validates bodies field by field and keeps meters without a society for platform admins', async () => {
    const invalid = await as(tokens.adminA)
      .post('/meters', {
        meterId: 'XYZ',
        manufacturer: 'KAMSTRUP',
        deviceType: 300,
        version: 1,
        installedAt: '2026-03-01T10:00:00',
      })
      .expect(400);
    expect(invalid.body.error.details.map((detail: { field: string }) => detail.field).sort()).toEqual([
      'deviceType',
      'installedAt',
      'manufacturer',
      'meterId',
    ]);
    await as(tokens.adminA).get('/meters/XYZ').expect(400);

    const orphan = { meterId: 'C0000001', manufacturer: 'KAM', deviceType: 22, version: 27 };
    const refused = await as(tokens.adminA).post('/meters', orphan).expect(403);
    expect(refused.body.error.message).toMatch(/only platform admins/);
    const created = await as(tokens.root).post('/meters', orphan).expect(201);
    expect(created.body.societyId).toBeNull();
    await as(tokens.adminA).get('/meters/C0000001').expect(404);
    expect(await listIds(tokens.adminA, 'search=C0')).toEqual([]);
    expect(await listIds(tokens.root, 'search=c0')).toEqual(['C0000001']);

    // A flat of another society of the same tenant is not the meter's flat.
    await as(tokens.root).patch('/meters/C0000001', { flatId: a.flat }).expect(404);
    const placed = await as(tokens.root)
      .patch('/meters/C0000001', { societyId: a.society, flatId: a.flat })
      .expect(200);
    expect(placed.body).toEqual(
      expect.objectContaining({ societyId: a.society, towerId: a.tower, flatId: a.flat }),
    );
    // Moving to another society without a flat unplaces the meter.
    const movedToB = await as(tokens.root).patch('/meters/C0000001', { societyId: b.society }).expect(200);
    expect(movedToB.body).toEqual(
      expect.objectContaining({ societyId: b.society, towerId: null, flatId: null }),
    );
    await as(tokens.adminA).get('/meters/C0000001').expect(404);
    await as(tokens.root).delete('/meters/C0000001').expect(204);
  });

  it('shows the key fingerprint (never the key), the last sighting and the latest values', async () => {
    await createMeter(harness.pool, 'AAAA00F1', a.society);
    const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const stored = await new MeterKeyRepository(harness.pool).store(
      'AAAA00F1',
      harness.meterKeyCipher.encrypt('AAAA00F1', key),
    );
    const status = new MeterStatusWriter(harness.pool);
    status.record({
      meterId: 'AAAA00F1',
      seenAt: new Date('2026-11-24T10:00:00.123Z'),
      rssiDbm: -71.5,
      source: 'gateway',
      gatewayId: 'gw-7',
      statusFlags: ['LEAK'],
    });
    await status.stop();
    await harness.readingCache.applyReadings([
      {
        meterId: 'AAAA00F1',
        meterGroup: '1',
        quantity: 'total_m3',
        unit: 'm3',
        value: 12.345,
        ts: Date.parse('2026-11-24T10:00:00Z'),
      },
    ]);

    const response = await as(tokens.viewerA).get('/meters/aaaa00f1').expect(200);
    expect(response.body).toEqual(
      expect.objectContaining({
        key: { fingerprint: stored.fingerprint, version: 1, setAt: stored.setAt.toISOString() },
        lastSeenAt: '2026-11-24T10:00:00.123Z',
        lastRssiDbm: -71.5,
        lastSource: 'gateway',
        lastGatewayId: 'gw-7',
        statusFlags: ['LEAK'],
        latestValues: [
          {
            quantity: 'total_m3',
            storage: 0,
            tariff: 0,
            unit: 'm3',
            value: 12.345,
            ts: '2026-11-24T10:00:00.000Z',
          },
        ],
      }),
    );
    expect(response.text.toLowerCase()).not.toContain(key.toString('hex'));
    const listed = (await as(tokens.viewerA).get('/meters?search=AAAA00F1').expect(200)).body.items;
    expect(listed).toEqual([
      expect.objectContaining({ meterId: 'AAAA00F1', statusFlags: ['LEAK'], key: expect.any(Object) }),
    ]);
    expect(JSON.stringify(listed).toLowerCase()).not.toContain(key.toString('hex'));
  });

  it('filters by society, tower, flat, group, status, manufacturer, id prefix and not heard since', async () => {
    const root = as(tokens.root);
    const meter = (meterId: string, extra: object) =>
      root
        .post('/meters', {
          meterId,
          manufacturer: 'KAM',
          deviceType: 22,
          version: 27,
          societyId: a.society,
          ...extra,
        })
        .expect(201);
    await meter('F1000001', { flatId: a.flat, groupId: northGroup });
    await meter('F1000002', { flatId: a.otherFlat, status: 'inactive' });
    await meter('F1000003', { manufacturer: 'APA', groupId: northGroup });
    await root
      .post('/meters', {
        meterId: 'F1000004',
        manufacturer: 'KAM',
        deviceType: 22,
        version: 27,
        societyId: b.society,
        flatId: b.flat,
        groupId: northGroup,
      })
      .expect(201);
    const status = new MeterStatusWriter(harness.pool);
    status.record({ meterId: 'F1000001', seenAt: new Date('2026-11-24T12:00:00Z'), source: 'gateway' });
    status.record({ meterId: 'F1000002', seenAt: new Date('2026-11-20T12:00:00Z'), source: 'gateway' });
    status.record({ meterId: 'F1000004', seenAt: new Date('2026-11-01T12:00:00Z'), source: 'gateway' });
    await status.stop();

    const f = (ids: string[]) => ids.filter((id) => id.startsWith('F1'));
    expect(f(await listIds(tokens.root, `societyId=${a.society}`))).toEqual([
      'F1000001',
      'F1000002',
      'F1000003',
    ]);
    expect(await listIds(tokens.root, `towerId=${a.tower}`)).toEqual(['F1000001']);
    expect(await listIds(tokens.root, `flatId=${a.otherFlat}`)).toEqual(['F1000002']);
    expect(await listIds(tokens.root, `groupId=${northGroup}`)).toEqual(['F1000001', 'F1000003', 'F1000004']);
    expect(await listIds(tokens.adminA, `groupId=${northGroup}`)).toEqual(['F1000001', 'F1000003']);
    expect(f(await listIds(tokens.root, 'status=inactive'))).toEqual(['F1000002']);
    expect(await listIds(tokens.root, 'manufacturer=apa')).toEqual(['F1000003']);
    expect(await listIds(tokens.root, 'search=f10000')).toEqual([
      'F1000001',
      'F1000002',
      'F1000003',
      'F1000004',
    ]);
    // Not heard since the 21st: heard before it, or never heard.
    expect(f(await listIds(tokens.root, 'notHeardSince=2026-11-21T00:00:00Z'))).toEqual([
      'F1000002',
      'F1000003',
      'F1000004',
    ]);
    expect(
      f(await listIds(tokens.adminA, 'notHeardSince=2026-11-21T00:00:00Z&groupId=' + northGroup)),
    ).toEqual(['F1000003']);

    const bad = await as(tokens.root)
      .get('/meters?notHeardSince=yesterday&status=gone&search=xyz&limit=0')
      .expect(400);
    expect(bad.body.error.details.map((detail: { field: string }) => detail.field).sort()).toEqual([
      'limit',
      'notHeardSince',
      'search',
      'status',
    ]);
    await as(tokens.root).get('/meters?groupId=999').expect(404);
    await as(tokens.root).get('/meters?cursor=bm90LWEtY3Vyc29y').expect(400);
  });

  it('pages in meter id order without duplicates or gaps while meters are added between pages', async () => {
    for (let i = 0; i < 7; i++)
      await createMeter(harness.pool, `E000000${(i * 2).toString(16).toUpperCase()}`, a.society);
    const seen: string[] = [];
    let cursor: string | null = null;
    let added = false;
    do {
      const url: string = `/meters?search=E0&limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await as(tokens.adminA).get(url).expect(200)).body as {
        items: MeterBody[];
        nextCursor: string | null;
      };
      seen.push(...page.items.map((item) => item.meterId));
      cursor = page.nextCursor;
      if (!added) {
        // One meter lands before the cursor (not shown: its place was already passed), one after it (shown).
        await createMeter(harness.pool, 'E0000001', a.society);
        await createMeter(harness.pool, 'E000000D', a.society);
        added = true;
      }
    } while (cursor);
    expect(seen).toEqual([
      'E0000000',
      'E0000002',
      'E0000004',
      'E0000006',
      'E0000008',
      'E000000A',
      'E000000C',
      'E000000D',
    ]);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("gives a billing system's read-only API key its society's meters only, and no writes", async () => {
    const created = (
      await as(tokens.adminA)
        .post(`/societies/${a.society}/api-keys`, { name: 'billing', scope: 'read' })
        .expect(201)
    ).body as { key: string };
    const withKey = (request: ReturnType<ReturnType<typeof harness.http>['get']>) =>
      request.set('X-API-Key', created.key);
    const listed = (await withKey(harness.http().get('/api/v1/meters?limit=1000')).expect(200)).body
      .items as MeterBody[];
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.every((meter) => meter.societyId === a.society)).toBe(true);
    await withKey(harness.http().get('/api/v1/meters/AAAA00F1')).expect(200);
    await withKey(harness.http().get('/api/v1/meters/BBBB0001')).expect(404);
    await withKey(harness.http().patch('/api/v1/meters/AAAA00F1')).send({ location: 'x' }).expect(403);
    await withKey(harness.http().get('/api/v1/unknown-meters')).expect(403);
  });

  it("never shows or changes another tenant's meters: 404 exactly like a missing meter", async () => {
    const adminA = as(tokens.adminA);
    const requests: [string, () => ReturnType<ReturnType<typeof as>['get']>][] = [
      ['GET meter of B', () => adminA.get('/meters/BBBB0001')],
      ['PATCH meter of B', () => adminA.patch('/meters/BBBB0001', { location: 'mine' })],
      ['DELETE meter of B', () => adminA.delete('/meters/BBBB0001')],
      ['GET missing meter', () => adminA.get('/meters/CCCC0404')],
      ['list with B society', () => adminA.get(`/meters?societyId=${b.society}`)],
      ['list with B tower', () => adminA.get(`/meters?towerId=${b.tower}`)],
      ['list with B flat', () => adminA.get(`/meters?flatId=${b.flat}`)],
      [
        'POST into B',
        () =>
          adminA.post('/meters', {
            meterId: 'A0000B01',
            manufacturer: 'KAM',
            deviceType: 22,
            version: 27,
            societyId: b.society,
          }),
      ],
      [
        'POST with B flat',
        () =>
          adminA.post('/meters', {
            meterId: 'A0000B02',
            manufacturer: 'KAM',
            deviceType: 22,
            version: 27,
            societyId: a.society,
            flatId: b.flat,
          }),
      ],
      ['PATCH own meter into B', () => adminA.patch('/meters/AAAA00F1', { societyId: b.society })],
      ['PATCH own meter into B flat', () => adminA.patch('/meters/AAAA00F1', { flatId: b.flat })],
    ];
    for (const [name, send] of requests) {
      const response = await send();
      expect({ name, status: response.status, code: response.body.error?.code }).toEqual({
        name,
        status: 404,
        code: 'not_found',
      });
    }
    const listed = await listIds(tokens.adminA, '');
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.filter((id) => id.startsWith('BBBB') || id === 'F1000004')).toEqual([]);
    expect(await listIds(tokens.adminA, 'search=BBBB')).toEqual([]);
    expect(await listIds(tokens.adminB, 'search=BBBB')).toEqual(['BBBB0001', 'BBBB0002']);
    const untouched = (await as(tokens.adminB).get('/meters/BBBB0001').expect(200)).body;
    expect(untouched).toEqual(expect.objectContaining({ societyId: b.society, location: null }));
    expect((await adminA.get('/meters/AAAA00F1').expect(200)).body.societyId).toBe(a.society);
  });
});
