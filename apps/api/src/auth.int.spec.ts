/** Login, token life cycle, the global guard, error format, OpenAPI and rate limits, on the real app and database. */
import { createUser, login, startHarness, TEST_PASSWORD, type ApiHarness } from './test-harness';

jest.setTimeout(60_000);

/** A concrete URL for a route pattern: every parameter gets a well-formed value. */
function concrete(path: string): string {
  return path.replace(/:meterId/g, '12345678').replace(/:[A-Za-z]+/g, '6f1c1f1e-4a57-4c4b-9f67-1f0cbbd1d5a1');
}

const PUBLIC_ROUTES = new Set([
  'get /health',
  'get /metrics',
  'post /api/v1/auth/login',
  'post /api/v1/auth/refresh',
  'post /api/v1/auth/logout',
  // The invitation token in the body is the credential; an existing account is proven in the body or header.
  'post /api/v1/invitations/accept',
]);

describe('API authentication', () => {
  let harness: ApiHarness & { close(): Promise<void> };
  let adminId: string;

  beforeAll(async () => {
    harness = await startHarness();
    adminId = await createUser(harness.pool, 'root@example.org', [
      { societyId: null, role: 'platform_admin' },
    ]);
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('logs in with a password and answers /auth/me for the token', async () => {
    const tokens = await login(harness, 'Root@Example.org');
    expect(tokens.accessToken.split('.')).toHaveLength(3);
    expect(tokens.refreshToken).toMatch(/^hesrt_/);
    const me = await harness
      .http()
      .get('/api/v1/auth/me')
      .auth(tokens.accessToken, { type: 'bearer' })
      .expect(200);
    expect(me.body).toEqual({
      kind: 'user',
      id: adminId,
      source: 'password',
      role: 'platform_admin',
      societyIds: 'all',
      societyRoles: {},
      scopes: ['read', 'ingest'],
    });
    const stored = await harness.pool.query(`SELECT token_hash FROM refresh_tokens`);
    expect(JSON.stringify(stored.rows)).not.toContain(tokens.refreshToken);
  });

  it('refuses wrong passwords, unknown emails and disabled users alike, and audits each', async () => {
    await createUser(harness.pool, 'gone@example.org', [{ societyId: null, role: 'platform_admin' }]);
    await harness.pool.query(`UPDATE users SET disabled = true WHERE email = 'gone@example.org'`);
    for (const [email, password] of [
      ['root@example.org', 'not the password'],
      ['nobody@example.org', TEST_PASSWORD],
      ['gone@example.org', TEST_PASSWORD],
    ]) {
      const response = await harness.http().post('/api/v1/auth/login').send({ email, password }).expect(401);
      expect(response.body).toEqual({
        error: { code: 'unauthorized', message: 'invalid email or password', details: [] },
      });
    }
    const audit = await harness.pool.query(
      `SELECT target, details->>'reason' AS reason FROM audit_log WHERE action = 'auth.login_failed' ORDER BY id`,
    );
    expect(audit.rows).toEqual([
      { target: 'root@example.org', reason: 'wrong_password' },
      { target: 'nobody@example.org', reason: 'unknown_email' },
      { target: 'gone@example.org', reason: 'disabled' },
    ]);
    const ok = await harness.pool.query(`SELECT actor FROM audit_log WHERE action = 'auth.login'`);
    expect(ok.rows[0]).toEqual({ actor: `user:${adminId}` });
  });

  it('rotates refresh tokens, and a reused one revokes the whole family', async () => {
    const first = await login(harness, 'root@example.org');
    const second = (
      await harness.http().post('/api/v1/auth/refresh').send({ refreshToken: first.refreshToken }).expect(200)
    ).body;
    expect(second.refreshToken).not.toBe(first.refreshToken);
    await harness.http().get('/api/v1/auth/me').auth(second.accessToken, { type: 'bearer' }).expect(200);
    const third = (
      await harness
        .http()
        .post('/api/v1/auth/refresh')
        .send({ refreshToken: second.refreshToken })
        .expect(200)
    ).body;

    // The first token again: theft assumed, the family (including the live third token) is revoked.
    await harness.http().post('/api/v1/auth/refresh').send({ refreshToken: first.refreshToken }).expect(401);
    await harness.http().post('/api/v1/auth/refresh').send({ refreshToken: third.refreshToken }).expect(401);
    const reuse = await harness.pool.query(
      `SELECT count(*)::int AS n FROM audit_log WHERE action = 'auth.refresh_reuse'`,
    );
    expect(reuse.rows[0].n).toBe(1);

    // Other sessions of the same user are untouched.
    const other = await login(harness, 'root@example.org');
    await harness.http().post('/api/v1/auth/refresh').send({ refreshToken: other.refreshToken }).expect(200);
  });

  it('logout ends the session: its refresh token no longer works', async () => {
    const tokens = await login(harness, 'root@example.org');
    await harness.http().post('/api/v1/auth/logout').send({ refreshToken: tokens.refreshToken }).expect(204);
    await harness.http().post('/api/v1/auth/refresh').send({ refreshToken: tokens.refreshToken }).expect(401);
    await harness.http().post('/api/v1/auth/logout').send({ refreshToken: 'hesrt_unknown' }).expect(204);
  });

  it('refuses tampered, foreign and malformed credentials', async () => {
    const { accessToken } = await login(harness, 'root@example.org');
    const [header, payload, signature] = accessToken.split('.');
    const forged = Buffer.from(
      JSON.stringify({
        ...JSON.parse(Buffer.from(payload, 'base64url').toString()),
        role: 'platform_admin',
        sub: 'x',
      }),
    ).toString('base64url');
    for (const credential of [`${header}.${forged}.${signature}`, 'hesgw_unknownkey', 'garbage']) {
      const response = await harness
        .http()
        .get('/api/v1/societies')
        .auth(credential, { type: 'bearer' })
        .expect(401);
      expect(response.body.error.code).toBe('unauthorized');
    }
    await harness.http().get('/api/v1/societies').set('Authorization', 'Basic abc').expect(401);
  });

  it('answers 401 on every route that is not explicitly public', async () => {
    const routes = harness.routes.filter(
      (route) => route.path.startsWith('/api/v1') || route.path === '/health' || route.path === '/metrics',
    );
    expect(routes.length).toBeGreaterThan(25);
    const publicSeen: string[] = [];
    for (const route of routes) {
      const key = `${route.method} ${route.path}`;
      if (PUBLIC_ROUTES.has(key)) {
        publicSeen.push(key);
        continue;
      }
      const response = await (
        harness.http() as unknown as Record<
          string,
          (url: string) => Promise<{ status: number; body: { error?: { code: string } } }>
        >
      )[route.method](concrete(route.path));
      expect({ route: key, status: response.status, code: response.body.error?.code }).toEqual({
        route: key,
        status: 401,
        code: 'unauthorized',
      });
    }
    expect(publicSeen.sort()).toEqual([...PUBLIC_ROUTES].sort());
  });

  it('serves the OpenAPI document listing every route', async () => {
    const document = (await harness.http().get('/docs-json').expect(200)).body as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    expect(document.openapi).toMatch(/^3\./);
    const documented = new Set(
      Object.entries(document.paths).flatMap(([path, operations]) =>
        Object.keys(operations).map((method) => `${method} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
      ),
    );
    for (const route of harness.routes.filter((r) => r.path.startsWith('/api/v1') || r.path === '/health')) {
      expect(documented).toContain(`${route.method} ${route.path}`);
    }
    await harness.http().get('/docs').expect(200).expect('Content-Type', /html/);
  });

  it('reports field-level validation errors in the error format, and refuses unknown fields', async () => {
    const response = await harness
      .http()
      .post('/api/v1/auth/login')
      .send({ email: 'not-an-email', extra: 1 })
      .expect(400);
    expect(response.body.error.code).toBe('validation_failed');
    const fields = (response.body.error.details as { field: string }[]).map((detail) => detail.field);
    expect(new Set(fields)).toEqual(new Set(['email', 'password', 'extra']));
    const badJson = await harness
      .http()
      .post('/api/v1/auth/login')
      .set('Content-Type', 'application/json')
      .send('{"email":')
      .expect(400);
    expect(badJson.body.error.code).toBe('bad_request');
    expect(JSON.stringify(badJson.body)).not.toMatch(/at .*\.js/);
  });

  it("answers Fastify's own refusals in the error format: unknown route, unsupported media type", async () => {
    const unknown = await harness.http().get('/api/v1/no-such-route').expect(404);
    expect(unknown.body.error).toEqual({
      code: 'not_found',
      message: 'Cannot GET /api/v1/no-such-route',
      details: [],
    });
    const xml = await harness
      .http()
      .post('/api/v1/auth/login')
      .set('Content-Type', 'application/xml')
      .send('<login/>')
      .expect(415);
    expect(xml.body.error.code).toBe('unsupported_media_type');
    expect(xml.body.error.details).toEqual([]);
  });

  it('serves /health and /metrics without credentials', async () => {
    const health = await harness.http().get('/health').expect(200);
    expect(health.body).toEqual({
      status: 'ok',
      checks: { database: { status: 'up' }, redis: { status: 'up' } },
    });
    const metrics = await harness.http().get('/metrics').expect(200);
    expect(metrics.text).toContain('app="api"');
  });
});

describe('API rate limits', () => {
  let harness: ApiHarness & { close(): Promise<void> };

  beforeAll(async () => {
    harness = await startHarness({ rateLimits: { requestsPerMinute: 5, loginAttemptsPerMinute: 3 } });
    await createUser(harness.pool, 'a@example.org', [{ societyId: null, role: 'platform_admin' }]);
    await createUser(harness.pool, 'b@example.org', [{ societyId: null, role: 'platform_admin' }]);
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('limits login attempts per address, then each principal separately', async () => {
    const a = await login(harness, 'a@example.org');
    const b = await login(harness, 'b@example.org');
    const third = await harness
      .http()
      .post('/api/v1/auth/login')
      .send({ email: 'a@example.org', password: 'wrong password' });
    expect(third.status).toBe(401);
    const blocked = await harness
      .http()
      .post('/api/v1/auth/login')
      .send({ email: 'a@example.org', password: TEST_PASSWORD });
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.code).toBe('rate_limited');
    expect(Number(blocked.headers['retry-after-login'])).toBeGreaterThan(0);

    for (let i = 0; i < 5; i += 1) {
      await harness.http().get('/api/v1/auth/me').auth(a.accessToken, { type: 'bearer' }).expect(200);
    }
    await harness.http().get('/api/v1/auth/me').auth(a.accessToken, { type: 'bearer' }).expect(429);
    // b has its own budget, although both come from the same address.
    await harness.http().get('/api/v1/auth/me').auth(b.accessToken, { type: 'bearer' }).expect(200);
  });
});
