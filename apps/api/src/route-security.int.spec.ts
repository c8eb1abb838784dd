/**
 * Authentication and tenant isolation on EVERY operation of the served OpenAPI document, so a new endpoint is
 * covered the moment it is documented: without credentials each answers 401 (but for a short allow-list), and
 * with society B's credentials each one naming a resource of society A answers exactly like one naming a
 * resource that does not exist (404, same body), while lists and B's own resources never show A's rows; an
 * ingest-only API key is refused everywhere but /auth/me.
 */
import { ReadingWriter, type Reading } from '@hes/storage';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { Response, Test } from 'supertest';
import { loadVectors } from '../../../libs/wmbus/test/vectors';
import { buildKemFile } from './keys/kem-test-files';
import { createMeter, createUser, login, startHarness, type ApiHarness } from './test-harness';

jest.setTimeout(60_000);

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

interface Operation {
  method: Method;
  /** The documented path, e.g. /api/v1/meters/{meterId}. */
  path: string;
  /** `GET /api/v1/meters/{meterId}`, the key of the tables below. */
  name: string;
  pathParams: string[];
  queryParams: string[];
}

/**
 * Operations anyone may call. Everything else must answer 401 without credentials.
 * - GET /health: load balancers and orchestrators probe it without credentials; it says only up/down per dependency.
 * - GET /metrics: scraped by Prometheus inside the deployment; counters without tenant data (README: keep it off
 *   the public ingress).
 * - POST /auth/login: how a user gets credentials in the first place.
 * - POST /auth/refresh, POST /auth/logout: the refresh token in the body is the credential (an access token may
 *   already have expired when a client refreshes or logs out).
 * - POST /invitations/accept: the invitation token in the body is the credential (the invitee may have no account
 *   yet); an existing account is proven with its password or an access token, checked by the handler.
 * Not in the document and public as well: /docs and /docs-json, the API description itself (no data).
 */
const ANONYMOUS = new Set([
  'GET /health',
  'GET /metrics',
  'POST /api/v1/auth/login',
  'POST /api/v1/auth/refresh',
  'POST /api/v1/auth/logout',
  'POST /api/v1/invitations/accept',
]);

/**
 * Platform administration: a society admin gets 403 whatever the ids name (the role check comes before any
 * lookup), so the answer for A's resource and for a missing one is still the same.
 */
const PLATFORM_ONLY = new Set([
  'POST /api/v1/users',
  'GET /api/v1/users',
  'GET /api/v1/users/{id}',
  'PATCH /api/v1/users/{id}',
  'PUT /api/v1/users/{id}/platform-admin',
  'DELETE /api/v1/users/{id}/platform-admin',
  'POST /api/v1/societies/{id}/members',
  'POST /api/v1/societies',
  'DELETE /api/v1/societies/{id}',
  'POST /api/v1/meter-groups',
  'GET /api/v1/unknown-meters',
  'POST /api/v1/unknown-meters/{meterId}/register',
]);

/** Which fixture a path parameter names, by the collection segment before it: `meters/{meterId}` → meter. */
const PATH_RESOURCES: Record<string, Resource> = {
  'societies/{id}': 'society',
  'members/{userId}': 'member',
  'invitations/{invitationId}': 'invitation',
  'towers/{id}': 'tower',
  'flats/{id}': 'flat',
  'meters/{meterId}': 'meter',
  'meters/{id}': 'meter',
  'api-keys/{id}': 'apiKey',
  'events/{id}': 'event',
  'commands/{id}': 'command',
  'users/{id}': 'member',
  'unknown-meters/{meterId}': 'unknownMeter',
  'meter-groups/{id}': 'group',
};

/** Query parameters that name a resource (filters of the list operations). */
const QUERY_RESOURCES: Record<string, Resource> = {
  societyId: 'society',
  towerId: 'tower',
  flatId: 'flat',
  meterId: 'meter',
  groupId: 'group',
};

type Resource =
  | 'society'
  | 'tower'
  | 'flat'
  | 'meter'
  | 'member'
  | 'invitation'
  | 'apiKey'
  | 'event'
  | 'command'
  | 'group'
  | 'unknownMeter';
type Fixtures = Record<Resource, string>;

/**
 * Meter groups are platform-wide (they partition the pipeline, every caller lists them), so naming A's group is
 * not naming A's data: B gets the group's consumption with B's meters only, checked with the lists.
 */
const SHARED: ReadonlySet<Resource> = new Set(['group']);

const MISSING: Fixtures = {
  society: '00000000-0000-4000-8000-000000000001',
  tower: '00000000-0000-4000-8000-000000000002',
  flat: '00000000-0000-4000-8000-000000000003',
  meter: '99990001',
  member: '00000000-0000-4000-8000-000000000004',
  invitation: '00000000-0000-4000-8000-000000000007',
  apiKey: '00000000-0000-4000-8000-000000000005',
  event: '999999999',
  command: '00000000-0000-4000-8000-000000000006',
  group: '999999',
  unknownMeter: 'FFFFFFF1',
};

const PERIOD = { from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z' };

/** Query parameters an operation requires, so that the answer comes from tenancy and not from validation. */
const REQUIRED_QUERY: Record<string, Record<string, string>> = {
  'GET /api/v1/meters/{id}/aggregates': { interval: '1d' },
  'GET /api/v1/meters/{id}/consumption': PERIOD,
  'GET /api/v1/societies/{id}/consumption': PERIOD,
  'GET /api/v1/meter-groups/{id}/consumption': PERIOD,
};

/** What a GET of one of B's own resources answers to B's society admin, where that is not 200. */
const OWN_READ_STATUS: Record<string, number> = {
  // Meter keys are never exported: the attempt is audit-logged and refused, for the meter's own society too.
  'GET /api/v1/meters/{meterId}/key/export': 403,
};

/** A valid body per write operation that names a resource in its path; `own` are the caller's (B's) fixtures. */
const BODIES: Record<string, (own: Fixtures) => object> = {
  'PATCH /api/v1/users/{id}': () => ({ displayName: 'renamed' }),
  'POST /api/v1/societies/{id}/members': (own) => ({ userId: own.member, role: 'viewer' }),
  'POST /api/v1/societies/{id}/invitations': () => ({ email: 'new-member@example.org', role: 'viewer' }),
  'PUT /api/v1/societies/{id}/members/{userId}': () => ({ role: 'field_operator' }),
  'PATCH /api/v1/societies/{id}': () => ({ name: 'renamed' }),
  'POST /api/v1/societies/{id}/towers': () => ({ name: 'Tower X' }),
  'PATCH /api/v1/towers/{id}': () => ({ name: 'renamed' }),
  'POST /api/v1/towers/{id}/flats': () => ({ name: '999' }),
  'PATCH /api/v1/flats/{id}': () => ({ name: 'renamed' }),
  'PUT /api/v1/meters/{meterId}/placement': (own) => ({ societyId: own.society }),
  'PATCH /api/v1/meters/{meterId}': () => ({ notes: 'mine now' }),
  'POST /api/v1/unknown-meters/{meterId}/register': (own) => ({ societyId: own.society }),
  'POST /api/v1/societies/{id}/api-keys': () => ({ name: 'stolen', scope: 'read' }),
  'PUT /api/v1/meters/{meterId}/key': () => ({ key: '00112233445566778899AABBCCDDEEFF' }),
  'POST /api/v1/events/{id}/acknowledge': () => ({ note: 'not mine' }),
  'POST /api/v1/meters/{meterId}/commands': () => ({ kind: 'read_request' }),
};

/**
 * Write operations that name no resource in their path but may name one in their body; each is checked by a
 * dedicated test below (`bodyReferences`), and a new one fails the walk until it is added there.
 */
const BODY_REFERENCE_CHECKED = new Set([
  'POST /api/v1/meters',
  'POST /api/v1/meters/import',
  'POST /api/v1/keys/import',
  'POST /api/v1/keys/import/kem',
  'POST /api/v1/decrypt/telegram',
  'POST /api/v1/decrypt/batch',
]);

function operationsOf(document: OpenAPIObject): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete'] as const) {
      const operation = item[method];
      if (!operation) continue;
      const parameters = (operation.parameters ?? []).map((parameter) => {
        if (!('in' in parameter)) throw new Error(`${method} ${path}: parameter by $ref`);
        return parameter;
      });
      operations.push({
        method,
        path,
        name: `${method.toUpperCase()} ${path}`,
        pathParams: parameters.filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: parameters.filter((p) => p.in === 'query').map((p) => p.name),
      });
    }
  }
  return operations;
}

/** The fixture kind a path parameter names; throws for a parameter this test does not know yet. */
function pathResource(operation: Operation, param: string): Resource {
  const segments = operation.path.split('/');
  const index = segments.indexOf(`{${param}}`);
  const key = `${segments[index - 1]}/{${param}}`;
  const resource = PATH_RESOURCES[key];
  if (resource === undefined)
    throw new Error(`${operation.name}: path parameter '${key}' is not mapped to a fixture in this test`);
  return resource;
}

function urlOf(operation: Operation, fixtures: Fixtures): string {
  let url = operation.path;
  for (const param of operation.pathParams)
    url = url.replace(`{${param}}`, encodeURIComponent(fixtures[pathResource(operation, param)]));
  return url;
}

describe('route security (every documented operation)', () => {
  let harness: ApiHarness & { close(): Promise<void> };
  let operations: Operation[];
  let root: string;
  let adminB: string;
  let readKeyB: string;
  let operatorB: string;
  let viewerB: string;
  const a = {} as Fixtures;
  const b = {} as Fixtures;
  /** Every id of A that must never show up in an answer to B (event ids are checked structurally: small numbers). */
  let secretsOfA: string[];

  type Credential = { bearer: string } | { apiKey: string } | null;

  function send(
    credential: Credential,
    method: Method,
    url: string,
    query: Record<string, string> = {},
    body?: object,
  ): Test {
    let test = harness.http()[method](url).query(query);
    if (credential && 'bearer' in credential) test = test.auth(credential.bearer, { type: 'bearer' });
    if (credential && 'apiKey' in credential) test = test.set('X-API-Key', credential.apiKey);
    return body === undefined ? test : test.send(body);
  }

  const asRoot = (method: Method, url: string, body?: object) =>
    send({ bearer: root }, method, `/api/v1${url}`, {}, body);

  async function buildSociety(name: string, target: Fixtures, meterId: string, group: string) {
    target.society = (await asRoot('post', '/societies', { name }).expect(201)).body.id;
    target.tower = (
      await asRoot('post', `/societies/${target.society}/towers`, { name: 'T1' }).expect(201)
    ).body.id;
    target.flat = (
      await asRoot('post', `/towers/${target.tower}/flats`, { name: '101' }).expect(201)
    ).body.id;
    await createMeter(harness.pool, meterId);
    await harness.pool.query('UPDATE meters SET group_id = $2 WHERE meter_id = $1', [meterId, group]);
    await asRoot('put', `/meters/${meterId}/placement`, {
      societyId: target.society,
      flatId: target.flat,
    }).expect(200);
    target.meter = meterId;
    target.group = group;
    target.apiKey = (
      await asRoot('post', `/societies/${target.society}/api-keys`, {
        name: 'billing',
        scope: 'read',
      }).expect(201)
    ).body.id;
    target.member = await createUser(harness.pool, `viewer@${name.replace(' ', '-')}.example.org`, [
      { societyId: target.society, role: 'viewer' },
    ]);
    target.invitation = (
      await asRoot('post', `/societies/${target.society}/invitations`, {
        email: `invitee@${name.replace(' ', '-')}.example.org`,
        role: 'viewer',
      }).expect(201)
    ).body.id;
    const event = await harness.pool.query<{ id: string }>(
      `INSERT INTO events (meter_id, ts, kind) VALUES ($1, '2026-01-15T00:00:00Z', 'leak') RETURNING id::text`,
      [meterId],
    );
    target.event = event.rows[0].id;
    const command = await harness.pool.query<{ id: string }>(
      `INSERT INTO meter_commands (meter_id, society_id, kind, requested_by)
       VALUES ($1, $2, 'read_request', 'user:root') RETURNING id`,
      [meterId, target.society],
    );
    target.command = command.rows[0].id;
    target.unknownMeter = MISSING.unknownMeter;
    // Readings stored and cached, so every readings endpoint has data of A that it could leak.
    const register = (ts: string, value: number): Reading => ({
      meterId,
      ts: new Date(ts),
      quantity: 'total_m3',
      storage: 0,
      tariff: 0,
      unit: 'm3',
      value,
      source: 'gateway',
    });
    await new ReadingWriter(harness.pool).write([
      register('2026-01-01T00:10:00Z', 10),
      register('2026-01-31T23:50:00Z', 12.5),
    ]);
    await harness.readingCache.applyReadings([
      {
        meterId,
        meterGroup: 'shared',
        quantity: 'total_m3',
        unit: 'm3',
        value: 12.5,
        ts: Date.UTC(2026, 0, 31),
      },
    ]);
  }

  beforeAll(async () => {
    harness = await startHarness();
    operations = operationsOf(harness.openApi);
    await createUser(harness.pool, 'root@example.org', [{ societyId: null, role: 'platform_admin' }]);
    root = (await login(harness, 'root@example.org')).accessToken;
    // One group shared by both societies' meters: B's view of it must hold B's meter and not A's.
    const group = (await asRoot('post', '/meter-groups', { name: 'shared' }).expect(201)).body.id;
    await buildSociety('Society A', a, '11110001', String(group));
    await buildSociety('Society B', b, '22220001', String(group));
    for (const meterId of [a.meter, b.meter])
      await asRoot('put', `/meters/${meterId}/key`, { key: 'A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1' }).expect(200);
    await createUser(harness.pool, 'admin-b@example.org', [{ societyId: b.society, role: 'society_admin' }]);
    adminB = (await login(harness, 'admin-b@example.org')).accessToken;
    await createUser(harness.pool, 'operator-b@example.org', [
      { societyId: b.society, role: 'field_operator' },
    ]);
    operatorB = (await login(harness, 'operator-b@example.org')).accessToken;
    await createUser(harness.pool, 'viewer-b@example.org', [{ societyId: b.society, role: 'viewer' }]);
    viewerB = (await login(harness, 'viewer-b@example.org')).accessToken;
    readKeyB = (
      await asRoot('post', `/societies/${b.society}/api-keys`, { name: 'erp', scope: 'read' }).expect(201)
    ).body.key;
    secretsOfA = [a.society, a.tower, a.flat, a.meter, a.member, a.invitation, a.apiKey, a.command];
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('documents the operations this test knows how to call', () => {
    expect(operations.length).toBeGreaterThan(60);
    const names = new Set(operations.map((operation) => operation.name));
    for (const name of [
      ...ANONYMOUS,
      ...PLATFORM_ONLY,
      ...Object.keys(REQUIRED_QUERY),
      ...Object.keys(BODIES),
      ...Object.keys(OWN_READ_STATUS),
      ...BODY_REFERENCE_CHECKED,
    ])
      expect({ name, documented: names.has(name) }).toEqual({ name, documented: true });
    for (const operation of operations) {
      for (const param of operation.pathParams) pathResource(operation, param);
      const unmappedFilters = operation.queryParams.filter(
        (param) => /Id$/.test(param) && !(param in QUERY_RESOURCES),
      );
      expect({ operation: operation.name, unmappedFilters }).toEqual({
        operation: operation.name,
        unmappedFilters: [],
      });
      const needsBodyCheck =
        operation.method !== 'get' &&
        operation.pathParams.length === 0 &&
        !ANONYMOUS.has(operation.name) &&
        !PLATFORM_ONLY.has(operation.name);
      if (needsBodyCheck) expect(BODY_REFERENCE_CHECKED).toContain(operation.name);
    }
  });

  it('answers 401 without credentials or with invalid ones, except the allow-listed operations', async () => {
    const invalid: Credential[] = [null, { bearer: 'not.a.jwt' }, { apiKey: 'hesgw_invalid' }];
    const seen: string[] = [];
    for (const operation of operations) {
      if (ANONYMOUS.has(operation.name)) continue;
      for (const credential of invalid) {
        const response = await send(credential, operation.method, urlOf(operation, a));
        expect({ operation: operation.name, credential, status: response.status }).toEqual({
          operation: operation.name,
          credential,
          status: 401,
        });
        expect(response.body.error.code).toBe('unauthorized');
      }
      seen.push(operation.name);
    }
    expect(seen.length).toBe(operations.length - ANONYMOUS.size);
    // The allow-listed ones really answer without credentials.
    await send(null, 'get', '/health').expect((response) => expect([200, 503]).toContain(response.status));
    await send(null, 'get', '/metrics').expect(200);
    await send(null, 'get', '/docs-json').expect(200);
  });

  it.each([
    // The society admin may do everything in B, so each answer must be the 404 of tenancy; lesser roles and the
    // read key may get 403 for what their role or scope never allows, but then for a missing resource as well.
    ['a society admin of B', () => ({ bearer: adminB }) as Credential, true],
    ['a field operator of B', () => ({ bearer: operatorB }) as Credential, false],
    ['a viewer of B', () => ({ bearer: viewerB }) as Credential, false],
    ['a read API key of B', () => ({ apiKey: readKeyB }) as Credential, false],
  ])(
    "answers %s for every one of A's resources exactly like for a missing one",
    async (_who, credentialOf, tenancyOnly) => {
      const credential = credentialOf();
      const checked: string[] = [];
      const differences: { operation: string; forA: unknown; forMissing: unknown }[] = [];
      for (const operation of operations) {
        if (ANONYMOUS.has(operation.name)) continue;
        const query = REQUIRED_QUERY[operation.name] ?? {};
        const body = BODIES[operation.name]?.(b);
        const resources = operation.pathParams.map((param) => pathResource(operation, param));
        const tenantResources = [...new Set(resources.filter((resource) => !SHARED.has(resource)))];
        // Each resource of A alone (in B's context), and all of them together for nested paths.
        const variants = tenantResources.map((resource) => [resource]);
        if (tenantResources.length > 1) variants.push(tenantResources);
        for (const variant of variants) {
          const ofA = { ...b, ...Object.fromEntries(variant.map((r) => [r, a[r]])) } as Fixtures;
          const missing = { ...b, ...Object.fromEntries(variant.map((r) => [r, MISSING[r]])) } as Fixtures;
          const forA = await send(credential, operation.method, urlOf(operation, ofA), query, body);
          const forMissing = await send(credential, operation.method, urlOf(operation, missing), query, body);
          const expected = tenancyOnly && !PLATFORM_ONLY.has(operation.name) ? 404 : forMissing.status;
          if (
            forA.status !== expected ||
            ![403, 404].includes(forA.status) ||
            JSON.stringify(forA.body) !== JSON.stringify(forMissing.body)
          )
            differences.push({
              operation: `${operation.name} (${variant.join(', ')} of A)`,
              forA: forA.body,
              forMissing: forMissing.body,
            });
          checked.push(`${operation.name} (${variant.join(', ')})`);
        }
        for (const param of operation.queryParams.filter((p) => p in QUERY_RESOURCES)) {
          const resource = QUERY_RESOURCES[param];
          if (SHARED.has(resource)) continue;
          const url = urlOf(operation, b);
          const forA = await send(
            credential,
            operation.method,
            url,
            { ...query, [param]: a[resource] },
            body,
          );
          const forMissing = await send(
            credential,
            operation.method,
            url,
            { ...query, [param]: MISSING[resource] },
            body,
          );
          if (
            (tenancyOnly && forA.status !== 404) ||
            ![403, 404].includes(forA.status) ||
            JSON.stringify(forA.body) !== JSON.stringify(forMissing.body)
          )
            differences.push({
              operation: `${operation.name}?${param}`,
              forA: forA.body,
              forMissing: forMissing.body,
            });
          checked.push(`${operation.name}?${param}`);
        }
      }
      expect(differences).toEqual([]);
      expect(checked.length).toBeGreaterThan(50);
      await expectAUnchanged();
    },
  );

  it("never shows A's rows in B's lists nor in B's own resources", async () => {
    const credential: Credential = { bearer: adminB };
    const read: string[] = [];
    const problems: { operation: string; status: number; leaked: string[] }[] = [];
    for (const operation of operations) {
      if (operation.method !== 'get' || ANONYMOUS.has(operation.name) || PLATFORM_ONLY.has(operation.name))
        continue;
      const response = await send(
        credential,
        'get',
        urlOf(operation, b),
        REQUIRED_QUERY[operation.name] ?? {},
      );
      const leaked = secretsOfA.filter((secret) => response.text.includes(secret));
      if (response.status !== (OWN_READ_STATUS[operation.name] ?? 200) || leaked.length > 0)
        problems.push({ operation: operation.name, status: response.status, leaked });
      read.push(operation.name);
    }
    expect(problems).toEqual([]);
    expect(read.length).toBeGreaterThan(25);
    // The lists are not simply empty: B sees its own rows.
    const api = (url: string, query: Record<string, string> = {}) =>
      send(credential, 'get', `/api/v1${url}`, query).expect(200);
    expect((await api('/meters')).body.items.map((m: { meterId: string }) => m.meterId)).toEqual([b.meter]);
    expect((await api('/events')).body.items.map((e: { id: string }) => e.id)).toEqual([b.event]);
    expect((await api('/societies')).body.map((s: { id: string }) => s.id)).toEqual([b.society]);
    const groupConsumption = await api(`/meter-groups/${b.group}/consumption`, PERIOD);
    expect(groupConsumption.text).toContain(b.meter);
    const csv = await api(`/meter-groups/${b.group}/consumption`, { ...PERIOD, format: 'csv' });
    expect(csv.text).toContain(b.meter);
    expect(csv.text).not.toContain(a.meter);
  });

  it('refuses an ingest API key (gateways feed telegrams, nothing else) on every operation but /auth/me', async () => {
    const ingestKeyB = (
      await asRoot('post', `/societies/${b.society}/api-keys`, { name: 'gateway', scope: 'ingest' }).expect(
        201,
      )
    ).body.key;
    const answered: string[] = [];
    for (const operation of operations) {
      if (ANONYMOUS.has(operation.name)) continue;
      const response = await send(
        { apiKey: ingestKeyB },
        operation.method,
        urlOf(operation, b),
        REQUIRED_QUERY[operation.name] ?? {},
        BODIES[operation.name]?.(b),
      );
      if (response.status !== 403) answered.push(`${operation.name}: ${response.status}`);
    }
    expect(answered).toEqual(['GET /api/v1/auth/me: 200']);
  });

  it("does not act on A's resources named in request bodies", async () => {
    const credential: Credential = { bearer: adminB };
    const post = (url: string, body: object) => send(credential, 'post', `/api/v1${url}`, {}, body);
    const same = async (name: string, forA: Response, forMissing: Response, status: number) =>
      expect({ name, status: forA.status, body: forA.body }).toEqual({
        name,
        status,
        body: forMissing.body,
      });

    const meter = (societyId: string) => ({
      meterId: '22220002',
      manufacturer: 'KAM',
      deviceType: 7,
      version: 27,
      societyId,
    });
    await same(
      'POST /meters into A',
      await post('/meters', meter(a.society)),
      await post('/meters', meter(MISSING.society)),
      404,
    );

    await same(
      'POST /meters into a flat of A',
      await post('/meters', { ...meter(b.society), flatId: a.flat }),
      await post('/meters', { ...meter(b.society), flatId: MISSING.flat }),
      404,
    );
    const patch = (body: object) => send(credential, 'patch', `/api/v1/meters/${b.meter}`, {}, body);
    await same(
      "PATCH B's meter into A",
      await patch({ societyId: a.society }),
      await patch({ societyId: MISSING.society }),
      404,
    );
    await same(
      "PATCH B's meter into a flat of A",
      await patch({ flatId: a.flat }),
      await patch({ flatId: MISSING.flat }),
      404,
    );

    const importCsv = (society: string) =>
      send(credential, 'post', '/api/v1/meters/import', { dryRun: 'true' })
        .set('Content-Type', 'text/csv')
        .send(`meter_id,manufacturer,device_type,version,society\nB2B2B2F1,KAM,7,27,${society}\n`);
    await same('meter import into A', await importCsv(a.society), await importCsv(MISSING.society), 200);

    const keyCsv = (meterId: string) =>
      send(credential, 'post', '/api/v1/keys/import', {})
        .set('Content-Type', 'text/csv')
        .send(`meter_id,key\n${meterId},00112233445566778899AABBCCDDEEFF\n`);
    const keyForA = await keyCsv(a.meter);
    const keyForMissing = await keyCsv(MISSING.meter);
    expect(keyForA.status).toBe(keyForMissing.status);
    expect(keyForA.text.replaceAll(a.meter, '<meter>')).toBe(
      keyForMissing.text.replaceAll(MISSING.meter, '<meter>'),
    );

    const kem = (meterId: string) =>
      send(credential, 'post', '/api/v1/keys/import/kem', {})
        .attach(
          'file',
          buildKemFile({
            password: 'kem-password',
            meters: [{ serialNumber: meterId, key: '00112233445566778899AABBCCDDEEFF' }],
          }),
          'keys.kem',
        )
        .field('password', 'kem-password');
    const kemForA = await kem(a.meter);
    const kemForMissing = await kem(MISSING.meter);
    expect(kemForA.status).toBe(kemForMissing.status);
    expect(kemForA.text.replaceAll(a.meter, '<meter>')).toBe(
      kemForMissing.text.replaceAll(MISSING.meter, '<meter>'),
    );
    for (const answer of [keyForA, kemForA])
      expect(answer.body).toMatchObject({
        imported: 0,
        failed: 1,
        rows: [{ errors: [{ code: 'unknown_meter' }] }],
      });

    // A real telegram of a meter registered in A with its key: B cannot decode it, like an unregistered one.
    const vector = loadVectors().find(
      (v) => v.driver === 'kamwater' && v.expected?.id === '76348799' && v.key !== null,
    )!;
    await createMeter(harness.pool, '76348799', a.society);
    await asRoot('put', '/meters/76348799/key', { key: vector.key! }).expect(200);
    const mine = await asRoot('post', '/decrypt/telegram', { telegram: vector.telegram }).expect(200);
    expect(mine.body.ok).toBe(true);
    const theirs = await post('/decrypt/telegram', { telegram: vector.telegram }).expect(200);
    expect(theirs.body).toMatchObject({ ok: false, error: { code: 'UNKNOWN_METER' } });
    const batch = await post('/decrypt/batch', { items: [{ telegram: vector.telegram }] }).expect(200);
    expect(batch.body).toMatchObject({
      decoded: 0,
      failed: 1,
      results: [{ error: { code: 'UNKNOWN_METER' } }],
    });
    expect(JSON.stringify([theirs.body, batch.body])).not.toMatch(/total_m3/);
    await harness.pool.query(`DELETE FROM meters WHERE meter_id = '76348799'`);

    await expectAUnchanged();
  });

  /** None of the write attempts above changed anything of A. */
  async function expectAUnchanged(): Promise<void> {
    const { rows } = await harness.pool.query(
      `SELECT s.name AS society, t.name AS tower, f.name AS flat, m.society_id = s.id AS "meterInA", m.notes,
              k.fingerprint IS NOT NULL AS "hasKey", k.version AS "keyVersion", e.acknowledged_at AS "ackAt",
              ak.revoked_at AS "keyRevokedAt", i.revoked_at AS "invitationRevokedAt",
              (SELECT count(*)::int FROM meter_commands c WHERE c.meter_id = m.meter_id) AS commands,
              (SELECT count(*)::int FROM towers WHERE society_id = s.id) AS towers,
              (SELECT count(*)::int FROM api_keys WHERE society_id = s.id) AS "apiKeys",
              (SELECT count(*)::int FROM memberships WHERE society_id = s.id) AS members,
              (SELECT count(*)::int FROM invitations WHERE society_id = s.id) AS invitations
       FROM societies s JOIN towers t ON t.id = $2 JOIN flats f ON f.id = $3 JOIN meters m ON m.meter_id = $4
       LEFT JOIN meter_keys k ON k.meter_id = m.meter_id JOIN events e ON e.id = $5::bigint
       JOIN api_keys ak ON ak.id = $6 JOIN invitations i ON i.id = $7
       WHERE s.id = $1`,
      [a.society, a.tower, a.flat, a.meter, a.event, a.apiKey, a.invitation],
    );
    expect(rows).toEqual([
      {
        society: 'Society A',
        tower: 'T1',
        flat: '101',
        meterInA: true,
        notes: null,
        hasKey: true,
        keyVersion: 1,
        ackAt: null,
        keyRevokedAt: null,
        invitationRevokedAt: null,
        commands: 1,
        towers: 1,
        apiKeys: 1,
        members: 1,
        invitations: 1,
      },
    ]);
  }
});
