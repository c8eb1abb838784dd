/**
 * Tenant isolation on every resource of the foundation: a society admin of A gets 404 for B's society, towers,
 * flats, meters, API keys, members and invitations, and lists only A's; viewers cannot write; API keys act within their scope.
 */
import { createMeter, createUser, login, startHarness, type ApiHarness } from './test-harness';

jest.setTimeout(60_000);

type Harness = ApiHarness & { close(): Promise<void> };

describe('tenant isolation', () => {
  let harness: Harness;
  let root: string;
  let adminA: string;
  let viewerA: string;
  const a = { society: '', tower: '', flat: '', key: '', invitation: '' };
  const b = { society: '', tower: '', flat: '', key: '', invitation: '' };
  let viewerAId: string;

  const as = (token: string) => ({
    get: (url: string) => harness.http().get(`/api/v1${url}`).auth(token, { type: 'bearer' }),
    post: (url: string, body: object = {}) =>
      harness.http().post(`/api/v1${url}`).auth(token, { type: 'bearer' }).send(body),
    put: (url: string, body: object = {}) =>
      harness.http().put(`/api/v1${url}`).auth(token, { type: 'bearer' }).send(body),
    patch: (url: string, body: object = {}) =>
      harness.http().patch(`/api/v1${url}`).auth(token, { type: 'bearer' }).send(body),
    delete: (url: string) => harness.http().delete(`/api/v1${url}`).auth(token, { type: 'bearer' }),
  });

  async function buildSociety(name: string, target: typeof a, meterIds: string[]) {
    const api = as(root);
    target.society = (await api.post('/societies', { name }).expect(201)).body.id;
    target.tower = (
      await api.post(`/societies/${target.society}/towers`, { name: 'Tower 1' }).expect(201)
    ).body.id;
    target.flat = (await api.post(`/towers/${target.tower}/flats`, { name: '101' }).expect(201)).body.id;
    for (const meterId of meterIds) await createMeter(harness.pool, meterId);
    await api
      .put(`/meters/${meterIds[0]}/placement`, { societyId: target.society, flatId: target.flat })
      .expect(200);
    await api.put(`/meters/${meterIds[1]}/placement`, { societyId: target.society }).expect(200);
    target.key = (
      await api.post(`/societies/${target.society}/api-keys`, { name: 'billing', scope: 'read' }).expect(201)
    ).body.id;
    target.invitation = (
      await api
        .post(`/societies/${target.society}/invitations`, { email: 'invitee@example.org', role: 'viewer' })
        .expect(201)
    ).body.id;
  }

  beforeAll(async () => {
    harness = await startHarness();
    await createUser(harness.pool, 'root@example.org', [{ societyId: null, role: 'platform_admin' }]);
    root = (await login(harness, 'root@example.org')).accessToken;
    await buildSociety('Society A', a, ['AAAA0001', 'AAAA0002']);
    await buildSociety('Society B', b, ['BBBB0001', 'BBBB0002']);
    await createUser(harness.pool, 'admin-a@example.org', [{ societyId: a.society, role: 'society_admin' }]);
    viewerAId = await createUser(harness.pool, 'viewer-a@example.org', [
      { societyId: a.society, role: 'viewer' },
    ]);
    await createUser(harness.pool, 'admin-b@example.org', [{ societyId: b.society, role: 'society_admin' }]);
    adminA = (await login(harness, 'admin-a@example.org')).accessToken;
    viewerA = (await login(harness, 'viewer-a@example.org')).accessToken;
  });
  afterAll(async () => {
    await harness?.close();
  });

  it("lists only the caller's own societies", async () => {
    const all = (await as(root).get('/societies').expect(200)).body.map((s: { name: string }) => s.name);
    expect(all).toEqual(['Society A', 'Society B']);
    const mine = (await as(adminA).get('/societies').expect(200)).body.map((s: { id: string }) => s.id);
    expect(mine).toEqual([a.society]);
  });

  it("answers 404 for every one of B's resources, exactly like for ones that do not exist", async () => {
    const api = as(adminA);
    const missing = '00000000-0000-4000-8000-000000000000';
    const requests: [string, () => ReturnType<ReturnType<typeof as>['get']>][] = [
      ['GET society', () => api.get(`/societies/${b.society}`)],
      ['PATCH society', () => api.patch(`/societies/${b.society}`, { name: 'mine now' })],
      ['GET structure', () => api.get(`/societies/${b.society}/structure`)],
      ['GET towers of society', () => api.get(`/societies/${b.society}/towers`)],
      ['POST tower', () => api.post(`/societies/${b.society}/towers`, { name: 'x' })],
      ['GET tower', () => api.get(`/towers/${b.tower}`)],
      ['PATCH tower', () => api.patch(`/towers/${b.tower}`, { name: 'x' })],
      ['DELETE tower', () => api.delete(`/towers/${b.tower}`)],
      ['GET flats of tower', () => api.get(`/towers/${b.tower}/flats`)],
      ['POST flat', () => api.post(`/towers/${b.tower}/flats`, { name: 'x' })],
      ['GET flat', () => api.get(`/flats/${b.flat}`)],
      ['PATCH flat', () => api.patch(`/flats/${b.flat}`, { name: 'x' })],
      ['DELETE flat', () => api.delete(`/flats/${b.flat}`)],
      ['GET meter placement', () => api.get('/meters/BBBB0001/placement')],
      ['PUT meter placement', () => api.put('/meters/BBBB0001/placement', { societyId: a.society })],
      ['PUT own meter into B', () => api.put('/meters/AAAA0002/placement', { societyId: b.society })],
      [
        'PUT own meter into B flat',
        () => api.put('/meters/AAAA0002/placement', { societyId: a.society, flatId: b.flat }),
      ],
      ['GET api keys', () => api.get(`/societies/${b.society}/api-keys`)],
      ['POST api key', () => api.post(`/societies/${b.society}/api-keys`, { name: 'x', scope: 'read' })],
      ['GET api key', () => api.get(`/api-keys/${b.key}`)],
      ['DELETE api key', () => api.delete(`/api-keys/${b.key}`)],
      ['GET members', () => api.get(`/societies/${b.society}/members`)],
      ['PUT member', () => api.put(`/societies/${b.society}/members/${viewerAId}`, { role: 'viewer' })],
      ['GET invitations', () => api.get(`/societies/${b.society}/invitations`)],
      [
        'POST invitation',
        () =>
          api.post(`/societies/${b.society}/invitations`, { email: 'viewer-a@example.org', role: 'viewer' }),
      ],
      ['DELETE invitation', () => api.delete(`/societies/${b.society}/invitations/${b.invitation}`)],
      [
        "DELETE B's invitation through A",
        () => api.delete(`/societies/${a.society}/invitations/${b.invitation}`),
      ],
      ['GET missing society', () => api.get(`/societies/${missing}`)],
      ['GET missing tower', () => api.get(`/towers/${missing}`)],
      ['GET unknown meter', () => api.get('/meters/CCCC0001/placement')],
    ];
    for (const [name, send] of requests) {
      const response = await send();
      expect({ name, status: response.status, code: response.body.error?.code }).toEqual({
        name,
        status: 404,
        code: 'not_found',
      });
    }
    // Nothing of B changed.
    const tree = (await as(root).get(`/societies/${b.society}/structure`).expect(200)).body;
    expect(tree).toEqual({
      id: b.society,
      name: 'Society B',
      meterCount: 2,
      unplacedMeterCount: 1,
      towers: [
        { id: b.tower, name: 'Tower 1', meterCount: 1, flats: [{ id: b.flat, name: '101', meterCount: 1 }] },
      ],
    });
    const keyB = await harness.pool.query(`SELECT revoked_at FROM api_keys WHERE id = $1`, [b.key]);
    expect(keyB.rows[0].revoked_at).toBeNull();
    const invitationsB = await harness.pool.query(
      `SELECT email, revoked_at FROM invitations WHERE society_id = $1`,
      [b.society],
    );
    expect(invitationsB.rows).toEqual([{ email: 'invitee@example.org', revoked_at: null }]);
  });

  it("manages its own society's structure, placement, keys and members", async () => {
    const api = as(adminA);
    const tower = (await api.post(`/societies/${a.society}/towers`, { name: 'Tower 2' }).expect(201)).body;
    const flat = (await api.post(`/towers/${tower.id}/flats`, { name: '201' }).expect(201)).body;
    await api.put('/meters/AAAA0002/placement', { societyId: a.society, flatId: flat.id }).expect(200);
    const tree = (await api.get(`/societies/${a.society}/structure`).expect(200)).body;
    expect(tree.meterCount).toBe(2);
    expect(tree.unplacedMeterCount).toBe(0);
    expect(tree.towers.map((t: { name: string; meterCount: number }) => [t.name, t.meterCount])).toEqual([
      ['Tower 1', 1],
      ['Tower 2', 1],
    ]);
    // Deleting the flat unplaces its meter but keeps it in the society.
    await api.delete(`/flats/${flat.id}`).expect(204);
    expect((await api.get('/meters/AAAA0002/placement').expect(200)).body).toEqual({
      meterId: 'AAAA0002',
      societyId: a.society,
      towerId: null,
      flatId: null,
    });
    const keys = (await api.get(`/societies/${a.society}/api-keys`).expect(200)).body;
    expect(keys.map((k: { id: string }) => k.id)).toEqual([a.key]);
    expect(JSON.stringify(keys)).not.toMatch(/hash|hesgw_/);
    const members = (await api.get(`/societies/${a.society}/members`).expect(200)).body;
    expect(members.map((m: { email: string; role: string }) => [m.email, m.role])).toEqual([
      ['admin-a@example.org', 'society_admin'],
      ['viewer-a@example.org', 'viewer'],
    ]);
  });

  it('lets a viewer read but not write in its own society (403), and still 404 elsewhere', async () => {
    const api = as(viewerA);
    await api.get(`/societies/${a.society}/structure`).expect(200);
    await api.get(`/towers/${a.tower}/flats`).expect(200);
    for (const response of [
      await api.post(`/societies/${a.society}/towers`, { name: 'x' }),
      await api.patch(`/towers/${a.tower}`, { name: 'x' }),
      await api.delete(`/flats/${a.flat}`),
      await api.put('/meters/AAAA0001/placement', { societyId: a.society }),
      await api.post(`/societies/${a.society}/api-keys`, { name: 'x', scope: 'read' }),
      await api.get(`/societies/${a.society}/members`),
      await api.get(`/societies/${a.society}/invitations`),
      await api.post(`/societies/${a.society}/invitations`, { email: 'x@example.org', role: 'viewer' }),
      await api.delete(`/societies/${a.society}/invitations/${a.invitation}`),
      await api.post('/societies', { name: 'x' }),
    ]) {
      expect(response.status).toBe(403);
      expect(response.body.error.code).toBe('forbidden');
    }
    await api.get(`/towers/${b.tower}`).expect(404);
  });

  it('keeps society admins out of platform administration', async () => {
    const api = as(adminA);
    await api.post('/users', { email: 'x@example.org', displayName: 'x' }).expect(403);
    await api.get('/users').expect(403);
    await api.delete(`/societies/${a.society}`).expect(403);
    // Society admins invite; only platform admins make an existing user a member at once.
    await api.post(`/societies/${a.society}/members`, { userId: viewerAId, role: 'viewer' }).expect(403);
    // A society role cannot be escalated to platform admin through the members endpoint.
    const escalate = await api
      .put(`/societies/${a.society}/members/${viewerAId}`, { role: 'platform_admin' })
      .expect(400);
    expect(escalate.body.error.details).toEqual([
      { field: 'role', message: expect.stringContaining('one of') },
    ]);
  });

  it('changes roles, audited, with effect at the next refresh', async () => {
    const viewer = await login(harness, 'viewer-a@example.org');
    await as(adminA)
      .put(`/societies/${a.society}/members/${viewerAId}`, { role: 'field_operator' })
      .expect(200);
    const refreshed = (
      await harness
        .http()
        .post('/api/v1/auth/refresh')
        .send({ refreshToken: viewer.refreshToken })
        .expect(200)
    ).body;
    const me = (await as(refreshed.accessToken).get('/auth/me').expect(200)).body;
    expect(me.societyRoles).toEqual({ [a.society]: 'field_operator' });
    await as(refreshed.accessToken).put('/meters/AAAA0001/placement', { societyId: a.society }).expect(200);
    const audit = await harness.pool.query(
      `SELECT actor, target, society_id, details FROM audit_log WHERE action = 'membership.set' AND target = $1`,
      [`user:${viewerAId}`],
    );
    expect(audit.rows).toEqual([
      expect.objectContaining({
        society_id: a.society,
        details: { role: 'field_operator', previousRole: 'viewer' },
      }),
    ]);
    await as(adminA).put(`/societies/${a.society}/members/${viewerAId}`, { role: 'viewer' }).expect(200);
  });

  it('API keys: shown once, scoped to their society, read-only or ingest-only, revocable, audited', async () => {
    const created = (
      await as(adminA).post(`/societies/${a.society}/api-keys`, { name: 'erp', scope: 'read' }).expect(201)
    ).body;
    expect(created.key).toMatch(/^hesgw_/);
    const ingest = (
      await as(adminA).post(`/societies/${a.society}/api-keys`, { name: 'gw', scope: 'ingest' }).expect(201)
    ).body;
    const withKey = (key: string) => ({
      get: (url: string) => harness.http().get(`/api/v1${url}`).set('X-API-Key', key),
      post: (url: string, body: object) =>
        harness.http().post(`/api/v1${url}`).set('X-API-Key', key).send(body),
    });

    const reader = withKey(created.key);
    const societies = (await reader.get('/societies').expect(200)).body;
    expect(societies.map((s: { id: string }) => s.id)).toEqual([a.society]);
    await reader.get(`/societies/${a.society}/structure`).expect(200);
    await reader.get(`/societies/${b.society}`).expect(404);
    await reader.post(`/societies/${a.society}/towers`, { name: 'x' }).expect(403);
    await reader.get(`/societies/${a.society}/api-keys`).expect(403);
    const me = (await reader.get('/auth/me').expect(200)).body;
    expect(me).toMatchObject({ kind: 'api_key', id: created.id, scopes: ['read'] });
    const used = await harness.pool.query(`SELECT last_used_at FROM api_keys WHERE id = $1`, [created.id]);
    expect(used.rows[0].last_used_at).not.toBeNull();

    const gateway = withKey(ingest.key);
    const refused = await gateway.get('/societies').expect(403);
    expect(refused.body.error.message).toContain('read');

    await as(adminA).delete(`/api-keys/${created.id}`).expect(204);
    await reader.get('/societies').expect(401);
    const audit = await harness.pool.query(
      `SELECT action, details->>'scope' AS scope FROM audit_log WHERE target = $1 ORDER BY id`,
      [`api_key:${created.id}`],
    );
    expect(audit.rows).toEqual([
      { action: 'api_key.create', scope: 'read' },
      { action: 'api_key.revoke', scope: 'read' },
    ]);
    const stored = await harness.pool.query(`SELECT * FROM api_keys`);
    expect(JSON.stringify(stored.rows)).not.toContain(created.key);
  });

  it('platform admins create users, grant roles, disable users (ending their sessions), and cannot delete a society with meters', async () => {
    const api = as(root);
    const user = (
      await api
        .post('/users', { email: 'New@Example.org', displayName: 'New', password: 'a long enough password' })
        .expect(201)
    ).body;
    expect(user).toMatchObject({ email: 'new@example.org', memberships: [], disabled: false });
    await api.post('/users', { email: 'new@example.org', displayName: 'Again' }).expect(409);
    // No memberships yet: the login is refused like a wrong password.
    await harness
      .http()
      .post('/api/v1/auth/login')
      .send({ email: 'new@example.org', password: 'a long enough password' })
      .expect(401);
    await api.put(`/users/${user.id}/platform-admin`).expect(204);
    const session = await login(harness, 'new@example.org', 'a long enough password');
    await api.patch(`/users/${user.id}`, { disabled: true }).expect(200);
    await harness
      .http()
      .post('/api/v1/auth/refresh')
      .send({ refreshToken: session.refreshToken })
      .expect(401);
    await api.delete(`/societies/${b.society}`).expect(409);
    const actions = await harness.pool.query(
      `SELECT action FROM audit_log WHERE target = $1 OR actor = $1 ORDER BY id`,
      [`user:${user.id}`],
    );
    expect(actions.rows.map((r) => r.action)).toEqual([
      'user.create',
      'auth.login_failed',
      'membership.set',
      'auth.login',
      'user.disable',
    ]);
  });
});
