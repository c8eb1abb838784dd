/**
 * CSV meter import over the real API and PostgreSQL: mixed good and bad rows (good ones imported, bad ones reported
 * by row and column), dry run, updates of existing meters, multipart upload, audit entry, and tenant isolation
 * (another tenant's societies and meters are neither found nor changed).
 */
import { createMeter, createUser, login, startHarness, type ApiHarness } from '../test-harness';

jest.setTimeout(60_000);

interface ImportBody {
  dryRun: boolean;
  rows: number;
  created: number;
  updated: number;
  failed: number;
  imported: { row: number; meterId: string; action: string }[];
  errors: { row: number; column: string | null; message: string }[];
}

describe('POST /meters/import', () => {
  let harness: ApiHarness & { close(): Promise<void> };
  const tokens = { root: '', adminA: '', viewerA: '', adminB: '' };
  const a = { society: '', tower: '', flat: '' };
  const b = { society: '', tower: '', flat: '' };

  const importCsv = (token: string, csv: string, dryRun = false) =>
    harness
      .http()
      .post(`/api/v1/meters/import${dryRun ? '?dryRun=true' : ''}`)
      .auth(token, { type: 'bearer' })
      .set('Content-Type', 'text/csv')
      .send(csv);

  async function meterRow(meterId: string) {
    const result = await harness.pool.query(
      `SELECT meter_id, manufacturer, device_type, version, driver, group_id, status, installed_at, location,
              society_id, flat_id FROM meters WHERE meter_id = $1`,
      [meterId],
    );
    return result.rows[0];
  }

  beforeAll(async () => {
    harness = await startHarness();
    await createUser(harness.pool, 'root@example.org', [{ societyId: null, role: 'platform_admin' }]);
    tokens.root = (await login(harness, 'root@example.org')).accessToken;
    const root = (url: string, body: object) =>
      harness.http().post(`/api/v1${url}`).auth(tokens.root, { type: 'bearer' }).send(body).expect(201);
    a.society = (await root('/societies', { name: 'Society A' })).body.id;
    b.society = (await root('/societies', { name: 'Society B' })).body.id;
    a.tower = (await root(`/societies/${a.society}/towers`, { name: 'T1' })).body.id;
    b.tower = (await root(`/societies/${b.society}/towers`, { name: 'T1' })).body.id;
    a.flat = (await root(`/towers/${a.tower}/flats`, { name: '101' })).body.id;
    b.flat = (await root(`/towers/${b.tower}/flats`, { name: '101' })).body.id;
    await root('/meter-groups', { name: 'north' });
    await createUser(harness.pool, 'admin-a@example.org', [{ societyId: a.society, role: 'society_admin' }]);
    await createUser(harness.pool, 'viewer-a@example.org', [{ societyId: a.society, role: 'viewer' }]);
    await createUser(harness.pool, 'admin-b@example.org', [{ societyId: b.society, role: 'society_admin' }]);
    tokens.adminA = (await login(harness, 'admin-a@example.org')).accessToken;
    tokens.viewerA = (await login(harness, 'viewer-a@example.org')).accessToken;
    tokens.adminB = (await login(harness, 'admin-b@example.org')).accessToken;
    await createMeter(harness.pool, 'BBBB0001', b.society);
    await createMeter(harness.pool, 'AAAA0001', a.society);
  });

  afterAll(async () => {
    await harness?.close();
  });

  /** Built when called: the society and flat ids exist only after beforeAll. */
  const mixed = () =>
    [
      'meter_id,manufacturer,device_type,version,driver,group,society,tower,flat,status,installed_at,location',
      '11110001,KAM,22,27,kamwater,north,Society A,T1,101,active,2026-03-01,kitchen', // 2: created, placed by names
      '11110002,KAM,0x16,27,,,Society A,,,,,', // 3: created, default group, not placed
      '11110003,KAM,22,27,,,Society B,,,,,', // 4: B's society: not found
      'BBBB0001,KAM,22,27,,,Society A,,,,,', // 5: B's meter: refused
      'AAAA0001,,,,,north,,,,inactive,,hall', // 6: existing meter of A: updated
      '11110004,KAM,22,,,,Society A,,,,,', // 7: version missing
      '11110005,KAM,22,27,,south,Society A,T1,999,,,', // 8: unknown group and flat
      'zz,KAM,22,27,,,Society A,,,,,', // 9: bad meter id
      `11110006,KAM,22,27,,,${b.society},,,,,`, // 10: B's society by id: not found
      `11110007,KAM,22,27,,,Society A,,${b.flat},,,`, // 11: B's flat by id: not in the society
    ].join('\n');

  it('dry run: reports what would happen and writes nothing', async () => {
    const response = await importCsv(tokens.adminA, mixed(), true).expect(200);
    const body = response.body as ImportBody;
    expect(body).toEqual(
      expect.objectContaining({ dryRun: true, rows: 10, created: 2, updated: 1, failed: 7 }),
    );
    expect(body.imported).toEqual([
      { row: 2, meterId: '11110001', action: 'created' },
      { row: 3, meterId: '11110002', action: 'created' },
      { row: 6, meterId: 'AAAA0001', action: 'updated' },
    ]);
    expect(await meterRow('11110001')).toBeUndefined();
    expect((await meterRow('AAAA0001')).status).toBe('active');
    const audit = await harness.pool.query(`SELECT 1 FROM audit_log WHERE action = 'meter.import'`);
    expect(audit.rowCount).toBe(0);
  });

  it('imports the good rows and reports each bad one by row, column and reason', async () => {
    const body = (await importCsv(tokens.adminA, mixed()).expect(200)).body as ImportBody;
    expect(body).toEqual(
      expect.objectContaining({ dryRun: false, rows: 10, created: 2, updated: 1, failed: 7 }),
    );
    expect(body.errors).toEqual([
      { row: 4, column: 'society', message: 'not found' },
      { row: 5, column: 'meter_id', message: 'is already registered outside your societies' },
      { row: 7, column: 'version', message: 'is required for a new meter' },
      { row: 8, column: 'group', message: 'no meter group with this id or name' },
      { row: 8, column: 'flat', message: 'not found in tower T1' },
      { row: 9, column: 'meter_id', message: 'must be 8 hex digits' },
      { row: 10, column: 'society', message: 'not found' },
      { row: 11, column: 'flat', message: "not found in the meter's society" },
    ]);
    const placed = await meterRow('11110001');
    const north = await harness.pool.query(`SELECT id FROM meter_groups WHERE name = 'north'`);
    expect(placed).toEqual({
      meter_id: '11110001',
      manufacturer: 'KAM',
      device_type: 22,
      version: 27,
      driver: 'kamwater',
      group_id: north.rows[0].id,
      status: 'active',
      installed_at: new Date('2026-03-01T00:00:00Z'),
      location: 'kitchen',
      society_id: a.society,
      flat_id: a.flat,
    });
    expect(await meterRow('11110002')).toEqual(
      expect.objectContaining({ device_type: 22, group_id: 1, society_id: a.society, flat_id: null }),
    );
    // The update changed only the filled cells.
    expect(await meterRow('AAAA0001')).toEqual(
      expect.objectContaining({
        manufacturer: 'KAM',
        device_type: 7,
        group_id: north.rows[0].id,
        status: 'inactive',
        location: 'hall',
        society_id: a.society,
      }),
    );
    // Nothing of B was created or changed.
    expect(await meterRow('11110003')).toBeUndefined();
    expect(await meterRow('BBBB0001')).toEqual(
      expect.objectContaining({ society_id: b.society, group_id: 1, status: 'active', location: null }),
    );

    const audit = await harness.pool.query(
      `SELECT actor, society_id, details FROM audit_log WHERE action = 'meter.import'`,
    );
    expect(audit.rows).toEqual([
      {
        actor: expect.stringMatching(/^user:/),
        society_id: a.society,
        details: { rows: 10, created: 2, updated: 1, failed: 7, societyIds: [a.society] },
      },
    ]);
  });

  it('accepts a multipart file, and importing the same file again updates instead of duplicating', async () => {
    const csv = 'meter_id,manufacturer,device_type,version,society\n11110008,KAM,22,27,Society A\n';
    const upload = () =>
      harness
        .http()
        .post('/api/v1/meters/import')
        .auth(tokens.adminA, { type: 'bearer' })
        .attach('file', Buffer.from(csv), { filename: 'meters.csv', contentType: 'text/csv' })
        .expect(200);
    expect((await upload()).body).toEqual(expect.objectContaining({ created: 1, updated: 0, failed: 0 }));
    expect((await upload()).body).toEqual(expect.objectContaining({ created: 0, updated: 1, failed: 0 }));
  });

  it('moves meters between the caller’s societies only, and keeps society-less meters for platform admins', async () => {
    const csv = 'meter_id,manufacturer,device_type,version\n11110009,KAM,22,27\n';
    const refused = (await importCsv(tokens.adminA, csv).expect(200)).body as ImportBody;
    expect(refused.errors).toEqual([
      {
        row: 2,
        column: 'society',
        message: 'is required: only platform admins may import meters without a society',
      },
    ]);
    const byRoot = (await importCsv(tokens.root, csv).expect(200)).body as ImportBody;
    expect(byRoot.created).toBe(1);
    expect((await meterRow('11110009')).society_id).toBeNull();
    // Society A's admin cannot take it over: it is not in A's tenant.
    const takeOver = (await importCsv(tokens.adminA, 'meter_id,society\n11110009,Society A\n').expect(200))
      .body as ImportBody;
    expect(takeOver.errors).toEqual([
      { row: 2, column: 'meter_id', message: 'is already registered outside your societies' },
    ]);
    // The platform admin moves a placed meter to B: it leaves its A flat.
    const moved = (await importCsv(tokens.root, 'meter_id,society\n11110001,Society B\n').expect(200))
      .body as ImportBody;
    expect(moved.updated).toBe(1);
    expect(await meterRow('11110001')).toEqual(
      expect.objectContaining({ society_id: b.society, flat_id: null }),
    );
  });

  it('refuses callers without a write role, bad headers and missing files', async () => {
    await importCsv(tokens.viewerA, 'meter_id\n12345678\n').expect(403);
    const header = await importCsv(tokens.adminA, 'meter,manufacturer\n12345678,KAM\n').expect(400);
    expect(header.body.error.details).toEqual([
      { field: 'file', message: expect.stringMatching(/^header: unknown column\(s\) "meter"/) },
      { field: 'file', message: 'header: the header row must name the column meter_id' },
    ]);
    const none = await harness
      .http()
      .post('/api/v1/meters/import')
      .auth(tokens.adminA, { type: 'bearer' })
      .send({ meters: [] })
      .expect(400);
    expect(none.body.error.details).toEqual([
      { field: 'file', message: 'send the CSV as multipart field "file" or as a text/csv body' },
    ]);
    await importCsv(tokens.adminA, 'meter_id\n12345678\n', false).query({ dryRun: 'maybe' }).expect(400);
  });
});
