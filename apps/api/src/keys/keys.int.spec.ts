/**
 * Meter keys through the API on the real stack: set/rotate/delete with fingerprints only, encryption at rest the
 * decryptors can read (and are notified of), the refused export, CSV and KEM imports with per-row results and dry
 * runs, audit entries without key material, and tenant isolation on every endpoint.
 */
import { MeterKeyRepository } from '@hes/storage';
import { zipSync } from 'fflate';
import { createMeter, createUser, login, startHarness, type ApiHarness } from '../test-harness';
import { buildKemFile } from './kem-test-files';
import { MAX_KEY_FILE_BYTES } from './key-import.controller';

jest.setTimeout(60_000);

const KEY_1 = '000102030405060708090A0B0C0D0E0F';
const KEY_2 = 'A1A2A3A4A5A6A7A8A9AAABACADAEAFB0';
const KEY_3 = '28F64A24988064A079AA2C807D6102AE';
const KEY_4 = 'FD83029839F59A18AB3D49013E0B33ED';
const ALL_KEYS = [KEY_1, KEY_2, KEY_3, KEY_4];

describe('meter keys API', () => {
  let harness: ApiHarness & { close(): Promise<void> };
  let root: string;
  let adminA: string;
  let viewerA: string;
  let societyA: string;
  let societyB: string;
  /** Every response body, checked at the end for key material. */
  const bodies: string[] = [];

  const record = <T extends { text: string }>(response: T): T => {
    bodies.push(response.text);
    return response;
  };
  const as = (token: string) => ({
    get: async (url: string) =>
      record(await harness.http().get(`/api/v1${url}`).auth(token, { type: 'bearer' })),
    put: async (url: string, body: object) =>
      record(await harness.http().put(`/api/v1${url}`).auth(token, { type: 'bearer' }).send(body)),
    delete: async (url: string) =>
      record(await harness.http().delete(`/api/v1${url}`).auth(token, { type: 'bearer' })),
    upload: async (url: string, file: Buffer, name: string, fields: Record<string, string> = {}) => {
      let request = harness
        .http()
        .post(`/api/v1${url}`)
        .auth(token, { type: 'bearer' })
        .attach('file', file, name);
      for (const [field, value] of Object.entries(fields)) request = request.field(field, value);
      return record(await request);
    },
    csvBody: async (url: string, csv: string) =>
      record(
        await harness
          .http()
          .post(`/api/v1${url}`)
          .auth(token, { type: 'bearer' })
          .set('Content-Type', 'text/csv')
          .send(csv),
      ),
  });

  async function society(name: string): Promise<string> {
    const result = await harness.pool.query<{ id: string }>(
      'INSERT INTO societies (name) VALUES ($1) RETURNING id',
      [name],
    );
    return result.rows[0].id;
  }

  async function auditRows(action: string) {
    return (
      await harness.pool.query<{ actor: string; target: string; society_id: string | null; details: object }>(
        'SELECT actor, target, society_id, details FROM audit_log WHERE action = $1 ORDER BY id',
        [action],
      )
    ).rows;
  }

  beforeAll(async () => {
    harness = await startHarness();
    societyA = await society('Society A');
    societyB = await society('Society B');
    const societyC = await society('Society C');
    for (const meterId of ['AAAA0001', 'AAAA0002', 'AAAA0003', '76348799', '76348801'])
      await createMeter(harness.pool, meterId, societyA);
    for (const meterId of ['BBBB0001', '76348800']) await createMeter(harness.pool, meterId, societyB);
    await createMeter(harness.pool, 'CCCC0001', societyC);
    await createUser(harness.pool, 'root@example.org', [{ societyId: null, role: 'platform_admin' }]);
    await createUser(harness.pool, 'admin-a@example.org', [
      { societyId: societyA, role: 'society_admin' },
      { societyId: societyC, role: 'viewer' },
    ]);
    await createUser(harness.pool, 'viewer-a@example.org', [{ societyId: societyA, role: 'viewer' }]);
    root = (await login(harness, 'root@example.org')).accessToken;
    adminA = (await login(harness, 'admin-a@example.org')).accessToken;
    viewerA = (await login(harness, 'viewer-a@example.org')).accessToken;
  });

  afterAll(async () => {
    await harness?.close();
  });

  it('sets and rotates a key: fingerprint and version only, encrypted at rest, decryptors notified, audited', async () => {
    const notified: string[] = [];
    const stopListening = await new MeterKeyRepository(harness.pool).listen((meterId) =>
      notified.push(meterId),
    );
    try {
      const set = await as(adminA).put('/meters/aaaa0001/key', { key: KEY_1.toLowerCase() });
      expect(set.status).toBe(200);
      expect(set.body).toEqual({
        meterId: 'AAAA0001',
        fingerprint: harness.meterKeyCipher.fingerprint(Buffer.from(KEY_1, 'hex')),
        version: 1,
        setAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      });
      const rotated = await as(adminA).put('/meters/AAAA0001/key', { key: KEY_2 });
      expect(rotated.status).toBe(200);
      expect(rotated.body).toMatchObject({ version: 2 });
      expect(rotated.body.fingerprint).not.toBe(set.body.fingerprint);
      expect(Date.parse(rotated.body.setAt)).toBeGreaterThanOrEqual(Date.parse(set.body.setAt));

      const read = await as(viewerA).get('/meters/AAAA0001/key');
      expect(read.status).toBe(200);
      expect(read.body).toEqual(rotated.body);

      // At rest: AES-GCM under the master key, bound to the meter id, readable by the decryptors' cipher.
      const stored = await new MeterKeyRepository(harness.pool).load('AAAA0001');
      expect(stored!.ciphertext.equals(Buffer.from(KEY_2, 'hex'))).toBe(false);
      expect(harness.meterKeyCipher.decrypt('AAAA0001', stored!).toString('hex').toUpperCase()).toBe(KEY_2);
      for (let i = 0; i < 50 && notified.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      expect(notified).toEqual(['AAAA0001', 'AAAA0001']);
    } finally {
      await stopListening();
    }
    expect(await auditRows('meter_key.set')).toEqual([
      expect.objectContaining({
        target: 'meter:AAAA0001',
        society_id: societyA,
        actor: expect.stringMatching(/^user:/),
        details: { fingerprint: expect.any(String), version: 1 },
      }),
    ]);
    expect(await auditRows('meter_key.rotate')).toEqual([
      expect.objectContaining({ target: 'meter:AAAA0001', details: expect.objectContaining({ version: 2 }) }),
    ]);
  });

  it('validates the key and the meter id with field-level errors', async () => {
    const bad = await as(adminA).put('/meters/AAAA0001/key', { key: 'not-a-key' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({
      code: 'validation_failed',
      details: [{ field: 'key', message: 'must be 32 hex digits (a 16-byte AES-128 key)' }],
    });
    const extra = await as(adminA).put('/meters/AAAA0001/key', { key: KEY_1, secret: 1 });
    expect(extra.status).toBe(400);
    const badId = await as(adminA).put('/meters/XYZ/key', { key: KEY_1 });
    expect(badId.status).toBe(400);
    expect(badId.body.error.details).toEqual([{ field: 'meterId', message: 'must be 8 hex digits' }]);
  });

  it("answers 404 for another tenant's meter on every key endpoint, exactly like a missing one, and 403 for viewers", async () => {
    const api = as(adminA);
    for (const [label, call] of [
      ['GET', (id: string) => api.get(`/meters/${id}/key`)],
      ['PUT', (id: string) => api.put(`/meters/${id}/key`, { key: KEY_1 })],
      ['DELETE', (id: string) => api.delete(`/meters/${id}/key`)],
      ['export', (id: string) => api.get(`/meters/${id}/key/export`)],
    ] as const) {
      const foreign = await call('BBBB0001');
      const missing = await call('DEADBEEF');
      expect({ label, status: foreign.status }).toEqual({ label, status: 404 });
      expect(foreign.body).toEqual(missing.body);
    }
    expect((await as(viewerA).put('/meters/AAAA0001/key', { key: KEY_1 })).status).toBe(403);
    expect((await as(viewerA).delete('/meters/AAAA0001/key')).status).toBe(403);
    // A viewer role in another society does not make its meters writable.
    expect((await api.put('/meters/CCCC0001/key', { key: KEY_1 })).status).toBe(403);
    expect((await api.get('/meters/AAAA0002/key')).body.error.message).toBe('meter key not found');
    const rootSets = await as(root).put('/meters/BBBB0001/key', { key: KEY_3 });
    expect(rootSets.status).toBe(200);
    expect((await api.get('/meters/BBBB0001/key')).status).toBe(404);
  });

  it('refuses every export attempt with 403 and audits it', async () => {
    const refused = await as(adminA).get('/meters/AAAA0001/key/export');
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: 'forbidden', message: 'meter keys are never exported' });
    expect((await as(root).get('/meters/AAAA0001/key/export')).status).toBe(403);
    const attempts = await auditRows('meter_key.export_attempt');
    expect(attempts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          target: 'meter:AAAA0001',
          society_id: societyA,
          details: { outcome: 'refused' },
        }),
        expect.objectContaining({
          target: 'meter:BBBB0001',
          society_id: null,
          details: { outcome: 'meter_not_found' },
        }),
      ]),
    );
  });

  it('deletes a key (audited), then answers 404 for it', async () => {
    await as(adminA).put('/meters/AAAA0003/key', { key: KEY_3 });
    expect((await as(adminA).delete('/meters/AAAA0003/key')).status).toBe(204);
    expect((await as(adminA).get('/meters/AAAA0003/key')).status).toBe(404);
    expect((await as(adminA).delete('/meters/AAAA0003/key')).status).toBe(404);
    expect(await new MeterKeyRepository(harness.pool).load('AAAA0003')).toBeUndefined();
    expect(await auditRows('meter_key.delete')).toEqual([
      expect.objectContaining({ target: 'meter:AAAA0003', details: expect.objectContaining({ version: 1 }) }),
    ]);
  });

  it('imports keys from CSV row by row, with a dry run that stores nothing', async () => {
    const csv = [
      'Meter_ID,Key,Note',
      `AAAA0002,${KEY_3},good`,
      'AAAA0003,12345,short key',
      `XYZ,${KEY_1},bad id`,
      `BBBB0001,${KEY_1},other tenant`,
      `DEADBEEF,${KEY_1},missing`,
      `CCCC0001,${KEY_1},viewer there`,
      '',
      `aaaa0002,${KEY_4},repeat`,
    ].join('\n');
    const dry = await as(adminA).upload('/keys/import?dryRun=true', Buffer.from(csv), 'keys.csv');
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true, total: 7, imported: 0, valid: 1, failed: 6 });
    expect(dry.body.rows[0]).toEqual({
      row: 2,
      meterId: 'AAAA0002',
      status: 'valid',
      fingerprint: harness.meterKeyCipher.fingerprint(Buffer.from(KEY_3, 'hex')),
      errors: [],
    });
    expect(await new MeterKeyRepository(harness.pool).load('AAAA0002')).toBeUndefined();

    const real = await as(adminA).upload('/keys/import', Buffer.from(csv), 'keys.csv');
    expect(real.status).toBe(200);
    expect(real.body).toMatchObject({ dryRun: false, total: 7, imported: 1, valid: 1, failed: 6 });
    const byRow = Object.fromEntries(
      real.body.rows.map((row: { row: number; status: string; errors: object[] }) => [
        row.row,
        [row.status, row.errors],
      ]),
    );
    expect(byRow).toEqual({
      2: ['imported', []],
      3: [
        'failed',
        [{ column: 'key', code: 'invalid_key', message: 'must be 32 hex digits (a 16-byte AES-128 key)' }],
      ],
      4: ['failed', [{ column: 'meter_id', code: 'invalid_meter_id', message: 'must be 8 hex digits' }]],
      5: ['failed', [{ column: 'meter_id', code: 'unknown_meter', message: 'meter not found' }]],
      6: ['failed', [{ column: 'meter_id', code: 'unknown_meter', message: 'meter not found' }]],
      7: [
        'failed',
        [
          {
            column: 'meter_id',
            code: 'forbidden',
            message: "role viewer in the meter's society may not set keys (needs society_admin)",
          },
        ],
      ],
      9: [
        'failed',
        [{ column: 'meter_id', code: 'duplicate', message: 'meter AAAA0002 is already in row 2' }],
      ],
    });
    const stored = await new MeterKeyRepository(harness.pool).load('AAAA0002');
    expect(harness.meterKeyCipher.decrypt('AAAA0002', stored!).toString('hex').toUpperCase()).toBe(KEY_3);
    expect((await new MeterKeyRepository(harness.pool).load('BBBB0001'))!.fingerprint).toBe(
      harness.meterKeyCipher.fingerprint(Buffer.from(KEY_3, 'hex')),
    );
    expect(await auditRows('meter_key.import')).toEqual([
      expect.objectContaining({
        target: 'meter:AAAA0002',
        society_id: societyA,
        details: { fingerprint: real.body.rows[0].fingerprint, version: 1, source: 'csv' },
      }),
    ]);

    const asBody = await as(adminA).csvBody('/keys/import', `meter_id,key\nAAAA0002,${KEY_4}\n`);
    expect(asBody.body).toMatchObject({ imported: 1, rows: [{ row: 2, status: 'imported', version: 2 }] });
  });

  it('refuses unreadable CSV uploads and non-admins', async () => {
    const noKeyColumn = await as(adminA).csvBody('/keys/import', 'meter_id,secret\nAAAA0002,x\n');
    expect(noKeyColumn.status).toBe(400);
    expect(noKeyColumn.body.error.details).toEqual([
      { field: 'file', message: 'the header row must name the columns meter_id and key (missing: key)' },
    ]);
    const nothing = await harness.http().post('/api/v1/keys/import').auth(adminA, { type: 'bearer' });
    expect(nothing.status).toBe(400);
    expect(nothing.body.error.details[0].field).toBe('file');
    const badDryRun = await as(adminA).csvBody('/keys/import?dryRun=maybe', 'meter_id,key\n');
    expect(badDryRun.body.error.details).toEqual([{ field: 'dryRun', message: 'must be true or false' }]);
    expect((await as(viewerA).csvBody('/keys/import', `meter_id,key\nAAAA0002,${KEY_1}\n`)).status).toBe(403);
  });

  it('bounds uploads at 8 MB as multipart file or CSV body, and takes one file, in the field file', async () => {
    const oversized = `meter_id,key\n${'x'.repeat(MAX_KEY_FILE_BYTES)}\n`;
    const multipart = await as(adminA).upload('/keys/import', Buffer.from(oversized), 'keys.csv');
    expect(multipart.status).toBe(413);
    expect(multipart.body.error).toEqual({
      code: 'payload_too_large',
      message: 'File too large',
      details: [],
    });
    const body = await as(adminA).csvBody('/keys/import', oversized);
    expect(body.status).toBe(413);
    expect(body.body.error.message).toBe(`the file is larger than ${MAX_KEY_FILE_BYTES} bytes`);
    const wrongField = await harness
      .http()
      .post('/api/v1/keys/import')
      .auth(adminA, { type: 'bearer' })
      .attach('upload', Buffer.from(`meter_id,key\nAAAA0002,${KEY_1}\n`), 'keys.csv');
    expect(wrongField.status).toBe(400);
    expect(wrongField.body.error.message).toBe('Unexpected file field');
    const twoFiles = await harness
      .http()
      .post('/api/v1/keys/import')
      .auth(adminA, { type: 'bearer' })
      .attach('file', Buffer.from(`meter_id,key\nAAAA0002,${KEY_1}\n`), 'a.csv')
      .attach('file', Buffer.from(`meter_id,key\nAAAA0002,${KEY_1}\n`), 'b.csv');
    expect(twoFiles.status).toBe(400);
    expect(twoFiles.body.error.message).toBe('Too many files');
  });

  it('imports a Kamstrup KEM file, zipped or not, with per-meter results', async () => {
    const meters = [
      { serialNumber: '76348799', key: KEY_3 },
      { serialNumber: '76348800', key: KEY_1 },
      { serialNumber: '12345', key: KEY_1 },
      { serialNumber: '76348801', key: 'not a key' },
    ];
    const plain = buildKemFile({ password: '0123456789', meters });
    const dry = await as(adminA).upload('/keys/import/kem?dryRun=true', plain, 'customer.kem', {
      password: '0123456789',
    });
    expect(dry.status).toBe(200);
    expect(
      dry.body.rows.map((row: { meterId: string; status: string; errors: { code: string }[] }) => [
        row.meterId,
        row.status,
        row.errors.map((error) => error.code),
      ]),
    ).toEqual([
      ['76348799', 'valid', []],
      ['76348800', 'failed', ['unknown_meter']],
      ['00012345', 'failed', ['unknown_meter']],
      ['76348801', 'failed', ['invalid_key']],
    ]);
    expect(dry.body.rows[3].errors[0].column).toBe('DEK');
    expect(await new MeterKeyRepository(harness.pool).load('76348799')).toBeUndefined();

    const zipped = buildKemFile({
      password: '0123456789',
      meters,
      layout: 'Devices',
      zipAs: 'customer.kem2',
    });
    const real = await as(adminA).upload('/keys/import/kem', zipped, 'customer.zip', {
      password: '0123456789',
    });
    expect(real.status).toBe(200);
    expect(real.body).toMatchObject({ dryRun: false, total: 4, imported: 1, failed: 3 });
    expect(real.body.rows[3].errors[0].column).toBe('Value');
    const stored = await new MeterKeyRepository(harness.pool).load('76348799');
    expect(harness.meterKeyCipher.decrypt('76348799', stored!).toString('hex').toUpperCase()).toBe(KEY_3);
    expect(await new MeterKeyRepository(harness.pool).load('76348800')).toBeUndefined();
    expect((await auditRows('meter_key.import')).at(-1)).toMatchObject({
      target: 'meter:76348799',
      details: { source: 'kem', version: 1 },
    });
  });

  it('answers a wrong password or a file that is not a KEM file with 422, and a missing password with 400', async () => {
    const file = buildKemFile({ password: 'secret', meters: [{ serialNumber: '76348799', key: KEY_1 }] });
    const wrong = await as(adminA).upload('/keys/import/kem', file, 'customer.kem', { password: 'guess' });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error).toEqual({
      code: 'wrong_password',
      message: 'wrong password: the decrypted content is not XML',
      details: [],
    });
    const zipWithoutKem = Buffer.from(zipSync({ 'notes.txt': new Uint8Array(Buffer.from('hello')) }));
    const notKem = await as(adminA).upload('/keys/import/kem', zipWithoutKem, 'x.zip', {
      password: 'secret',
    });
    expect(notKem.status).toBe(422);
    expect(notKem.body.error.code).toBe('not_kem');
    const noPassword = await as(adminA).upload('/keys/import/kem', file, 'customer.kem');
    expect(noPassword.status).toBe(400);
    expect(noPassword.body.error.details.map((d: { field: string }) => d.field)).toContain('password');
    expect((await as(viewerA).upload('/keys/import/kem', file, 'c.kem', { password: 'secret' })).status).toBe(
      403,
    );
  });

  it('stores a multi-row import with versions per meter and its audit entries in row order', async () => {
    const csv = `meter_id;key\n76348801;${KEY_4}\nAAAA0003;${KEY_3}\nAAAA0001;${KEY_1}\n`;
    const response = await as(adminA).upload('/keys/import', Buffer.from(csv), 'keys.csv');
    expect(
      response.body.rows.map((row: { meterId: string; version: number }) => [row.meterId, row.version]),
    ).toEqual([
      ['76348801', 1],
      ['AAAA0003', 1],
      ['AAAA0001', 3],
    ]);
    const entries = (await auditRows('meter_key.import')).slice(-3);
    expect(entries.map((entry) => [entry.target, (entry.details as { version: number }).version])).toEqual([
      ['meter:76348801', 1],
      ['meter:AAAA0003', 1],
      ['meter:AAAA0001', 3],
    ]);
    const stored = await new MeterKeyRepository(harness.pool).load('AAAA0001');
    expect(harness.meterKeyCipher.decrypt('AAAA0001', stored!).toString('hex').toUpperCase()).toBe(KEY_1);
  });

  it('documents the uploads as multipart forms in the OpenAPI document', async () => {
    const document = (await harness.http().get('/docs-json')).body as {
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: object }> } }>
      >;
    };
    expect(
      document.paths['/api/v1/keys/import/kem'].post.requestBody!.content['multipart/form-data'].schema,
    ).toEqual({
      type: 'object',
      required: ['file', 'password'],
      properties: { file: { type: 'string', format: 'binary' }, password: { type: 'string' } },
    });
    expect(Object.keys(document.paths['/api/v1/keys/import'].post.requestBody!.content)).toEqual([
      'multipart/form-data',
      'text/csv',
    ]);
    expect(Object.keys(document.paths['/api/v1/meters/{meterId}/key'])).toEqual(['get', 'put', 'delete']);
  });

  it('never puts key material in a response body or an audit entry', async () => {
    const audit = (await harness.pool.query('SELECT details::text AS details FROM audit_log')).rows
      .map((row: { details: string }) => row.details)
      .join('\n');
    expect(bodies.length).toBeGreaterThan(30);
    for (const key of ALL_KEYS) {
      for (const text of [...bodies, audit]) {
        expect(text.toUpperCase()).not.toContain(key);
      }
    }
  });
});
