/**
 * The decrypt service on the real stack: real encrypted telegrams (a real Kamstrup MULTICAL 21 capture from the
 * shared vectors, and telegrams built by the codec's encoder) decoded with the keys stored through the API, per-item
 * errors, compact formats from the compact_formats table, tenant isolation, and nothing stored.
 */
import { CompactFormatRepository } from '@hes/storage';
import { encodeTelegram, formatSignature, type EncodeInput } from '@hes/wmbus';
import { createMeter, createUser, login, startHarness, type ApiHarness } from '../test-harness';
import { loadVectors } from '../../../../libs/wmbus/test/vectors';

jest.setTimeout(60_000);

const KEY_A1 = Buffer.from('0123456789ABCDEF0123456789ABCDEF', 'hex');
const KEY_B1 = Buffer.from('FEDCBA9876543210FEDCBA9876543210', 'hex');
const WRONG = Buffer.from('00000000000000000000000000000001', 'hex');
/** A record set whose compact format is not built in: it must come from the compact_formats table. */
const CUSTOM_FORMAT = '02FF2004134413615B';

function kamstrup(meterId: string, key: Buffer | undefined, volumeM3: number, frame: EncodeInput['frame']) {
  const info = Buffer.alloc(2);
  return encodeTelegram({
    manufacturer: 'KAM',
    id: meterId,
    version: 0x1b,
    deviceType: 0x16,
    frame,
    accessNumber: 7,
    key,
    records: [
      { dif: 0x02, vif: 0xff, vifes: [0x20], raw: info },
      { dif: 0x04, vif: 0x13, value: volumeM3 },
      { dif: 0x44, vif: 0x13, value: Math.floor(volumeM3) },
      { dif: 0x61, vif: 0x5b, value: 12 },
    ],
  });
}

describe('decrypt service', () => {
  let harness: ApiHarness & { close(): Promise<void> };
  let root: string;
  let viewerA: string;
  let adminB: string;
  const vectors = loadVectors().filter(
    (vector) => vector.driver === 'kamwater' && vector.expected?.id === '76348799' && vector.key !== null,
  );
  const realFull = vectors.find((vector) => vector.telegram.startsWith('2A44'))!;
  const realCompact = vectors.find((vector) => vector.telegram.startsWith('2344'))!;
  const responses: string[] = [];

  const post = async (token: string, url: string, body: object) => {
    const response = await harness.http().post(`/api/v1${url}`).auth(token, { type: 'bearer' }).send(body);
    responses.push(response.text);
    return response;
  };

  beforeAll(async () => {
    harness = await startHarness();
    const [a, b] = await Promise.all(
      ['Society A', 'Society B'].map(
        async (name) =>
          (
            await harness.pool.query<{ id: string }>(
              'INSERT INTO societies (name) VALUES ($1) RETURNING id',
              [name],
            )
          ).rows[0].id,
      ),
    );
    for (const meterId of ['76348799', 'AAAA0001', 'AAAA0002', 'AAAA0003', 'AAAA0004'])
      await createMeter(harness.pool, meterId, a);
    await createMeter(harness.pool, 'BBBB0001', b);
    await createUser(harness.pool, 'root@example.org', [{ societyId: null, role: 'platform_admin' }]);
    await createUser(harness.pool, 'viewer-a@example.org', [{ societyId: a, role: 'viewer' }]);
    await createUser(harness.pool, 'admin-b@example.org', [{ societyId: b, role: 'society_admin' }]);
    root = (await login(harness, 'root@example.org')).accessToken;
    viewerA = (await login(harness, 'viewer-a@example.org')).accessToken;
    adminB = (await login(harness, 'admin-b@example.org')).accessToken;
    for (const [meterId, key] of [
      ['76348799', realFull.key!],
      ['AAAA0001', KEY_A1.toString('hex')],
      ['AAAA0004', WRONG.toString('hex')],
      ['BBBB0001', KEY_B1.toString('hex')],
    ]) {
      const response = await harness
        .http()
        .put(`/api/v1/meters/${meterId}/key`)
        .auth(root, { type: 'bearer' })
        .send({ key });
      expect(response.status).toBe(200);
    }
  });

  afterAll(async () => {
    await harness?.close();
  });

  it('decodes a real Kamstrup telegram with the stored key, given as hex or base64', async () => {
    const hex = await post(viewerA, '/decrypt/telegram', { telegram: realFull.telegram });
    expect(hex.status).toBe(200);
    expect(hex.body).toMatchObject({
      index: 0,
      ok: true,
      meterId: '76348799',
      driver: 'kamwater',
      manufacturer: 'KAM',
      deviceType: 0x16,
      medium: 'cold water',
      security: 'ell-aes-ctr',
      status: 'DRY',
      meterError: false,
      fields: { total_m3: 6.408, target_m3: 6.408, flow_temperature_c: 127 },
    });
    expect(hex.body.readings).toEqual(
      expect.arrayContaining([
        { quantity: 'total_m3', unit: 'm3', value: 6.408, storage: 0, tariff: 0 },
        { quantity: 'target_m3', unit: 'm3', value: 6.408, storage: 1, tariff: 0 },
      ]),
    );
    const base64 = await post(viewerA, '/decrypt/telegram', {
      telegram: Buffer.from(realCompact.telegram, 'hex').toString('base64'),
    });
    expect(base64.body).toMatchObject({ ok: true, meterId: '76348799', fields: { total_m3: 6.409 } });
    const explicit = await post(viewerA, '/decrypt/telegram', {
      telegram: Buffer.from(realFull.telegram, 'hex').toString('base64'),
      encoding: 'base64',
    });
    expect(explicit.body.ok).toBe(true);
    // As wmbusmeters logs it: an underscore between the plaintext header and the encrypted part, and blanks.
    const logged = `${realFull.telegram.slice(0, 22)}_${realFull.telegram.slice(22, 40)} ${realFull.telegram.slice(40)}`;
    expect((await post(viewerA, '/decrypt/telegram', { telegram: logged })).body).toMatchObject({
      ok: true,
      meterId: '76348799',
    });
    const oddHex = await post(viewerA, '/decrypt/telegram', { telegram: 'ABC', encoding: 'hex' });
    expect(oddHex.body).toMatchObject({
      ok: false,
      meterId: null,
      error: { code: 'BAD_INPUT', message: 'telegram is not an even number of hex digits' },
    });
  });

  it('answers each item of a batch on its own, in order, with error codes', async () => {
    const items = [
      { telegram: realFull.telegram },
      { telegram: kamstrup('AAAA0001', KEY_A1, 12.5, 'kamstrup-full').toString('hex') },
      { telegram: kamstrup('AAAA0002', undefined, 3.25, 'kamstrup-full').toString('hex') },
      { telegram: kamstrup('AAAA0003', KEY_A1, 1, 'kamstrup-full').toString('hex') },
      { telegram: kamstrup('AAAA0004', KEY_A1, 1, 'kamstrup-full').toString('hex') },
      { telegram: kamstrup('BBBB0001', KEY_B1, 1, 'kamstrup-full').toString('hex') },
      { telegram: kamstrup('DEADBEEF', KEY_A1, 1, 'kamstrup-full').toString('hex') },
      { telegram: 'zz-not-a-telegram' },
      { telegram: '0102' },
    ];
    const response = await post(viewerA, '/decrypt/batch', { items });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ decoded: 3, failed: 6 });
    const summary = response.body.results.map(
      (r: { index: number; ok: boolean; meterId: string | null; error?: { code: string } }) => [
        r.index,
        r.meterId,
        r.ok ? 'ok' : r.error!.code,
      ],
    );
    expect(summary).toEqual([
      [0, '76348799', 'ok'],
      [1, 'AAAA0001', 'ok'],
      [2, 'AAAA0002', 'ok'],
      [3, 'AAAA0003', 'NO_KEY'],
      [4, 'AAAA0004', 'DECRYPTION_FAILED'],
      [5, 'BBBB0001', 'UNKNOWN_METER'],
      [6, 'DEADBEEF', 'UNKNOWN_METER'],
      [7, null, 'BAD_INPUT'],
      [8, null, expect.any(String)],
    ]);
    expect(response.body.results[1].fields.total_m3).toBe(12.5);
    expect(response.body.results[2]).toMatchObject({ security: 'none', fields: { total_m3: 3.25 } });
    expect(response.body.results[5].error.message).toBe('meter BBBB0001 is not one of your meters');
    expect(response.body.results[6].error.message).toBe('meter DEADBEEF is not one of your meters');
  });

  it("uses only the caller's keys: another tenant sees UNKNOWN_METER, a platform admin decodes both", async () => {
    const aTelegram = kamstrup('AAAA0001', KEY_A1, 2, 'kamstrup-full').toString('hex');
    const bTelegram = kamstrup('BBBB0001', KEY_B1, 4, 'kamstrup-full').toString('hex');
    const asB = await post(adminB, '/decrypt/batch', {
      items: [{ telegram: aTelegram }, { telegram: bTelegram }],
    });
    expect(
      asB.body.results.map((r: { ok: boolean; error?: { code: string } }) => r.error?.code ?? 'ok'),
    ).toEqual(['UNKNOWN_METER', 'ok']);
    const asRoot = await post(root, '/decrypt/batch', {
      items: [{ telegram: aTelegram }, { telegram: bTelegram }],
    });
    expect(asRoot.body.decoded).toBe(2);
  });

  it('decodes compact frames with the formats in compact_formats, and stores nothing', async () => {
    const compact = kamstrup('AAAA0001', KEY_A1, 9, 'kamstrup-compact').toString('hex');
    const unknown = await post(viewerA, '/decrypt/telegram', { telegram: compact });
    expect(unknown.body).toMatchObject({ ok: false, error: { code: 'UNKNOWN_COMPACT_FORMAT' } });

    // A full frame earlier in the same batch teaches its format to the compact frames after it, for that batch only.
    const full = kamstrup('AAAA0001', KEY_A1, 8, 'kamstrup-full').toString('hex');
    const taught = await post(viewerA, '/decrypt/batch', {
      items: [{ telegram: full }, { telegram: compact }],
    });
    expect(taught.body.decoded).toBe(2);
    const formats = new CompactFormatRepository(harness.pool);
    expect(await formats.loadAll()).toEqual([]);
    const counts = await harness.pool.query<{ readings: number; events: number }>(
      'SELECT (SELECT count(*) FROM readings)::int AS readings, (SELECT count(*) FROM events)::int AS events',
    );
    expect(counts.rows[0]).toEqual({ readings: 0, events: 0 });

    const format = Buffer.from(CUSTOM_FORMAT, 'hex');
    await formats.save({ manufacturer: 'KAM', deviceType: 0x16, signature: formatSignature(format), format });
    const known = await post(viewerA, '/decrypt/telegram', { telegram: compact });
    expect(known.body).toMatchObject({ ok: true, fields: { total_m3: 9 } });
  });

  it('validates the body: telegram required, encoding known, at most 1,000 items', async () => {
    const missing = await post(viewerA, '/decrypt/telegram', {});
    expect(missing.status).toBe(400);
    expect(missing.body.error.details.map((d: { field: string }) => d.field)).toContain('telegram');
    const encoding = await post(viewerA, '/decrypt/telegram', { telegram: 'AA', encoding: 'base32' });
    expect(encoding.body.error.details).toEqual([
      { field: 'encoding', message: expect.stringContaining('hex, base64') },
    ]);
    const empty = await post(viewerA, '/decrypt/batch', { items: [] });
    expect(empty.status).toBe(400);
    const badItem = await post(viewerA, '/decrypt/batch', { items: [{ telegram: 'AA' }, { telegram: 5 }] });
    expect(badItem.body.error.details.map((d: { field: string }) => d.field)).toContain('items[1].telegram');

    const telegram = kamstrup('AAAA0001', KEY_A1, 1, 'kamstrup-full').toString('hex');
    const tooMany = await post(viewerA, '/decrypt/batch', { items: Array(1001).fill({ telegram }) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.details).toEqual([
      { field: 'items', message: 'items must contain no more than 1000 elements' },
    ]);
    const full = await post(viewerA, '/decrypt/batch', { items: Array(1000).fill({ telegram }) });
    expect(full.status).toBe(200);
    expect(full.body.decoded).toBe(1000);
    // The largest wM-Bus frames (256 bytes, 512 hex digits) fit a full batch too.
    const largest = 'A'.repeat(512);
    const large = await post(viewerA, '/decrypt/batch', { items: Array(1000).fill({ telegram: largest }) });
    expect(large.status).toBe(200);
    expect(large.body.failed).toBe(1000);
    const oversized = await post(viewerA, '/decrypt/batch', { items: [{ telegram: 'A'.repeat(1_100_000) }] });
    expect(oversized.status).toBe(413);
    expect(oversized.body.error).toEqual({
      code: 'payload_too_large',
      message: 'Request body is too large',
      details: [],
    });
  });

  it('never returns key material', () => {
    const keys = [KEY_A1, KEY_B1, WRONG, Buffer.from(realFull.key!, 'hex')].map((key) =>
      key.toString('hex').toUpperCase(),
    );
    for (const text of responses) for (const key of keys) expect(text.toUpperCase()).not.toContain(key);
  });
});
