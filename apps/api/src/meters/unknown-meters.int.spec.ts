/**
 * Meter groups and unknown meters over the real API and PostgreSQL: groups are readable by everyone and created
 * by platform admins; unknown meters are listed to platform admins only and registered in one transaction (meter
 * from the sighting, key encrypted at rest, sighting removed, audit entry), never showing the key.
 */
import { MeterKeyRepository, UnknownMeterRepository } from '@hes/storage';
import { createUser, login, startHarness, type ApiHarness } from '../test-harness';

jest.setTimeout(60_000);

const KEY_HEX = '0F1E2D3C4B5A69788796A5B4C3D2E1F0';

describe('meter groups and unknown meters', () => {
  let harness: ApiHarness & { close(): Promise<void> };
  const tokens = { root: '', adminA: '', viewerA: '' };
  let societyA = '';
  let flatA = '';
  let flatB = '';

  const as = (token: string) => ({
    get: (url: string) => harness.http().get(`/api/v1${url}`).auth(token, { type: 'bearer' }),
    post: (url: string, body: object = {}) =>
      harness.http().post(`/api/v1${url}`).auth(token, { type: 'bearer' }).send(body),
  });

  beforeAll(async () => {
    harness = await startHarness();
    await createUser(harness.pool, 'root@example.org', [{ societyId: null, role: 'platform_admin' }]);
    tokens.root = (await login(harness, 'root@example.org')).accessToken;
    const root = as(tokens.root);
    societyA = (await root.post('/societies', { name: 'Society A' }).expect(201)).body.id;
    const societyB = (await root.post('/societies', { name: 'Society B' }).expect(201)).body.id;
    const towerA = (await root.post(`/societies/${societyA}/towers`, { name: 'T1' }).expect(201)).body.id;
    const towerB = (await root.post(`/societies/${societyB}/towers`, { name: 'T1' }).expect(201)).body.id;
    flatA = (await root.post(`/towers/${towerA}/flats`, { name: '101' }).expect(201)).body.id;
    flatB = (await root.post(`/towers/${towerB}/flats`, { name: '101' }).expect(201)).body.id;
    await createUser(harness.pool, 'admin-a@example.org', [{ societyId: societyA, role: 'society_admin' }]);
    await createUser(harness.pool, 'viewer-a@example.org', [{ societyId: societyA, role: 'viewer' }]);
    tokens.adminA = (await login(harness, 'admin-a@example.org')).accessToken;
    tokens.viewerA = (await login(harness, 'viewer-a@example.org')).accessToken;

    const unknown = new UnknownMeterRepository(harness.pool);
    const sighting = { manufacturer: 'KAM', deviceType: 22, version: 27, source: 'gateway' };
    for (let i = 0; i < 3; i++) {
      await unknown.record({
        ...sighting,
        meterId: '7A000001',
        heardAt: new Date(Date.parse('2026-11-24T10:00:00Z') + i * 60_000),
        gatewayId: `gw-${i}`,
        rssiDbm: -80 + i,
      });
    }
    await unknown.record({ ...sighting, meterId: '7A000002', heardAt: new Date('2026-11-24T11:00:00Z') });
    await unknown.record({
      ...sighting,
      meterId: '7A000003',
      manufacturer: 'APA',
      deviceType: 7,
      heardAt: new Date('2026-11-24T12:00:00Z'),
    });
  });

  afterAll(async () => {
    await harness?.close();
  });

  it('documents every meters endpoint in the served OpenAPI document', async () => {
    const served = (await harness.http().get('/docs-json').expect(200)).body as {
      paths: Record<
        string,
        Record<string, { summary?: string; description?: string; responses: Record<string, unknown> }>
      >;
    };
    const operations: [string, string, string][] = [
      ['/api/v1/meters', 'get', '200'],
      ['/api/v1/meters', 'post', '201'],
      ['/api/v1/meters/{meterId}', 'get', '200'],
      ['/api/v1/meters/{meterId}', 'patch', '200'],
      ['/api/v1/meters/{meterId}', 'delete', '204'],
      ['/api/v1/meters/import', 'post', '200'],
      ['/api/v1/meter-groups', 'get', '200'],
      ['/api/v1/meter-groups', 'post', '201'],
      ['/api/v1/unknown-meters', 'get', '200'],
      ['/api/v1/unknown-meters/{meterId}/register', 'post', '201'],
    ];
    for (const [path, method, status] of operations) {
      const operation = served.paths[path]?.[method];
      expect({
        path,
        method,
        documented: Boolean(operation?.summary),
        status: Boolean(operation?.responses[status]),
      }).toEqual({ path, method, documented: true, status: true });
    }
    expect(served.paths['/api/v1/unknown-meters'].get.description).toMatch(/belong to no tenant/);
  });

  it('documents limit and cursor of every cursor-paginated list, and items and nextCursor of its page', async () => {
    type Schema = { $ref?: string; properties?: Record<string, unknown>; allOf?: Schema[] };
    const served = (await harness.http().get('/docs-json').expect(200)).body as {
      paths: Record<
        string,
        Record<
          string,
          {
            parameters?: { name: string; in: string }[];
            responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
          }
        >
      >;
      components: { schemas: Record<string, Schema> };
    };
    const propertiesOf = (schema: Schema): string[] => {
      const named =
        schema.$ref === undefined ? schema : served.components.schemas[schema.$ref.split('/').pop()!];
      return [...Object.keys(named.properties ?? {}), ...(named.allOf ?? []).flatMap(propertiesOf)];
    };
    const lists = [
      '/api/v1/meters',
      '/api/v1/unknown-meters',
      '/api/v1/events',
      '/api/v1/alarms/not-heard',
      '/api/v1/meters/{meterId}/commands',
      '/api/v1/meters/{id}/readings',
      '/api/v1/societies/{id}/consumption',
    ];
    for (const path of lists) {
      const operation = served.paths[path].get;
      const query = (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      const page = propertiesOf(operation.responses['200'].content!['application/json'].schema);
      expect({ path, limit: query.includes('limit'), cursor: query.includes('cursor') }).toEqual({
        path,
        limit: true,
        cursor: true,
      });
      expect({ path, page }).toEqual({
        path,
        page: expect.arrayContaining(['items', 'nextCursor']),
      });
    }
  });

  it('lists meter groups to every caller and lets only platform admins create them', async () => {
    const created = await as(tokens.root)
      .post('/meter-groups', { name: 'east', description: 'east zone' })
      .expect(201);
    expect(created.body).toEqual({
      id: expect.any(Number),
      name: 'east',
      description: 'east zone',
      createdAt: expect.any(String),
    });
    const listed = (await as(tokens.viewerA).get('/meter-groups').expect(200)).body;
    expect(listed.map((group: { name: string }) => group.name)).toEqual(['default', 'east']);
    await as(tokens.adminA).post('/meter-groups', { name: 'west' }).expect(403);
    const duplicate = await as(tokens.root).post('/meter-groups', { name: 'east' }).expect(409);
    expect(duplicate.body.error.message).toMatch(/already exists/);
    const invalid = await as(tokens.root).post('/meter-groups', { name: ' padded ' }).expect(400);
    expect(invalid.body.error.details).toEqual([
      { field: 'name', message: expect.stringMatching(/whitespace/) },
    ]);
  });

  it('lists unknown meters to platform admins only, with how often, when and where they were heard', async () => {
    await as(tokens.adminA).get('/unknown-meters').expect(403);
    await as(tokens.viewerA).get('/unknown-meters').expect(403);
    const first = (await as(tokens.root).get('/unknown-meters?limit=2').expect(200)).body;
    expect(first.items).toEqual([
      {
        meterId: '7A000001',
        manufacturer: 'KAM',
        deviceType: 22,
        version: 27,
        heardCount: 3,
        firstHeardAt: '2026-11-24T10:00:00.000Z',
        lastHeardAt: '2026-11-24T10:02:00.000Z',
        lastSource: 'gateway',
        lastGatewayId: 'gw-2',
        lastRssiDbm: -78,
      },
      expect.objectContaining({ meterId: '7A000002', heardCount: 1, lastGatewayId: null, lastRssiDbm: null }),
    ]);
    const second = (
      await as(tokens.root).get(`/unknown-meters?limit=2&cursor=${first.nextCursor}`).expect(200)
    ).body;
    expect(second.items.map((item: { meterId: string }) => item.meterId)).toEqual(['7A000003']);
    expect(second.nextCursor).toBeNull();
    const often = (await as(tokens.root).get('/unknown-meters?minHeardCount=2').expect(200)).body;
    expect(often.items.map((item: { meterId: string }) => item.meterId)).toEqual(['7A000001']);
  });

  it('registers an unknown meter with its key in one call, storing the key encrypted and never showing it', async () => {
    await as(tokens.adminA).post('/unknown-meters/7A000001/register', { societyId: societyA }).expect(403);
    const registered = await as(tokens.root)
      .post('/unknown-meters/7a000001/register', {
        societyId: societyA,
        flatId: flatA,
        key: KEY_HEX,
        driver: 'kamwater',
      })
      .expect(201);
    const stored = await new MeterKeyRepository(harness.pool).load('7A000001');
    if (!stored) throw new Error('the key was not stored');
    expect(registered.body).toEqual(
      expect.objectContaining({
        meterId: '7A000001',
        manufacturer: 'KAM',
        deviceType: 22,
        version: 27,
        driver: 'kamwater',
        societyId: societyA,
        flatId: flatA,
        group: { id: 1, name: 'default' },
        key: { fingerprint: stored.fingerprint, version: 1, setAt: stored.setAt.toISOString() },
      }),
    );
    expect(registered.text.toUpperCase()).not.toContain(KEY_HEX);
    expect(harness.meterKeyCipher.decrypt('7A000001', stored).toString('hex').toUpperCase()).toBe(KEY_HEX);
    expect(stored.ciphertext.toString('hex').toUpperCase()).not.toContain(KEY_HEX);

    // The society's admin now sees it; it is no longer unknown.
    await as(tokens.adminA).get('/meters/7A000001').expect(200);
    const remaining = (await as(tokens.root).get('/unknown-meters').expect(200)).body.items;
    expect(remaining.map((item: { meterId: string }) => item.meterId)).toEqual(['7A000002', '7A000003']);
    await as(tokens.root).post('/unknown-meters/7A000001/register', { societyId: societyA }).expect(404);

    const audit = await harness.pool.query(
      `SELECT actor, society_id, details FROM audit_log WHERE action = 'unknown_meter.register'`,
    );
    expect(audit.rows).toEqual([
      {
        actor: expect.stringMatching(/^user:/),
        society_id: societyA,
        details: {
          flatId: flatA,
          groupId: null,
          withKey: true,
          heardCount: 3,
          keyFingerprint: stored.fingerprint,
        },
      },
    ]);
    expect(JSON.stringify(audit.rows).toUpperCase()).not.toContain(KEY_HEX);
  });

  it('changes nothing when any part of a registration fails', async () => {
    const missingSociety = '00000000-0000-4000-8000-000000000000';
    const cases: [object, number, string][] = [
      [{ societyId: missingSociety }, 404, 'society not found'],
      [{ societyId: societyA, flatId: flatB }, 404, 'flat not found'],
      [{ societyId: societyA, groupId: 999 }, 404, 'meter group not found'],
    ];
    for (const [body, status, message] of cases) {
      const response = await as(tokens.root).post('/unknown-meters/7A000002/register', body);
      expect({ status: response.status, message: response.body.error.message }).toEqual({ status, message });
    }
    const invalid = await as(tokens.root)
      .post('/unknown-meters/7A000002/register', { societyId: societyA, key: 'F00D' })
      .expect(400);
    expect(invalid.body.error.details).toEqual([{ field: 'key', message: 'key must be 32 hex digits' }]);
    expect(JSON.stringify(invalid.body)).not.toContain('F00D');
    const meters = await harness.pool.query(`SELECT 1 FROM meters WHERE meter_id = '7A000002'`);
    expect(meters.rowCount).toBe(0);
    const unknown = await harness.pool.query(
      `SELECT heard_count FROM unknown_meters WHERE meter_id = '7A000002'`,
    );
    expect(unknown.rowCount).toBe(1);

    const registered = await as(tokens.root)
      .post('/unknown-meters/7A000002/register', { societyId: societyA })
      .expect(201);
    expect(registered.body).toEqual(
      expect.objectContaining({ meterId: '7A000002', key: null, flatId: null }),
    );
  });
});
