import { EventWriter } from './event-writer';
import { runMigrations } from './migrate';
import {
  CompactFormatRepository,
  GatewayRepository,
  HandheldUploadRepository,
  MeterKeyRepository,
  MeterRepository,
  UnknownMeterRepository,
} from './repositories';
import { TestDatabase, createTestDatabase } from '../test/postgres-database';

describe('repositories on real PostgreSQL 15', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('hes_storage_repos');
    await runMigrations(db.pool, { dialect: 'postgres' });
  });

  afterAll(async () => {
    await db.drop();
  });

  it('registers meters, finds them and maps ids to groups in one call', async () => {
    const meters = new MeterRepository(db.pool);
    const tower = await meters.createGroup('tower-a');
    await meters.register({
      meterId: '12345678',
      manufacturer: 'kam',
      deviceType: 0x16,
      version: 0x1b,
      driver: 'kamwater',
    });
    await meters.register({
      meterId: 'abcdef01',
      manufacturer: 'KAM',
      deviceType: 0x16,
      version: 0x1b,
      groupId: tower.id,
    });
    expect((await meters.get('ABCDEF01'))?.groupId).toBe(tower.id);
    expect(await meters.get('12345678')).toEqual(
      expect.objectContaining({ manufacturer: 'KAM', groupId: 1, status: 'active' }),
    );
    expect((await meters.findByIds(['abcdef01', '12345678', '99999999'])).map((m) => m.meterId)).toEqual([
      '12345678',
      'ABCDEF01',
    ]);
    const groups = await meters.groupsOf(['12345678', 'ABCDEF01', '12345678', '00000000']);
    expect([...groups.entries()]).toEqual(
      expect.arrayContaining([
        ['12345678', 1],
        ['ABCDEF01', tower.id],
      ]),
    );
    expect(groups.size).toBe(2);
    await expect(meters.get('xyz')).rejects.toThrow(/8 hex digits/);
  });

  it('counts unknown meter sightings and keeps the latest details even when sightings arrive late', async () => {
    const unknown = new UnknownMeterRepository(db.pool);
    const base = {
      meterId: '55555555',
      manufacturer: 'KAM',
      deviceType: 0x16,
      version: 0x1b,
      source: 'gateway',
    };
    expect(
      await unknown.record({
        ...base,
        heardAt: new Date('2026-01-01T10:00:00Z'),
        gatewayId: 'gw-1',
        rssiDbm: -70,
      }),
    ).toBe(1);
    expect(
      await unknown.record({ ...base, heardAt: new Date('2026-01-01T09:00:00Z'), gatewayId: 'gw-old' }),
    ).toBe(2);
    const [entry] = await unknown.list();
    expect(entry).toEqual(
      expect.objectContaining({
        heardCount: 2,
        lastGatewayId: 'gw-1',
        lastRssiDbm: -70,
        firstHeardAt: new Date('2026-01-01T09:00:00Z'),
      }),
    );
    expect(await unknown.count()).toBe(1);
  });

  it('saves a compact format once and loads it back', async () => {
    const formats = new CompactFormatRepository(db.pool);
    const format = {
      manufacturer: 'KAM',
      deviceType: 0x16,
      signature: 0xabcd,
      format: Buffer.from('0413', 'hex'),
    };
    expect(await formats.save(format)).toBe(true);
    expect(await formats.save({ ...format, format: Buffer.from('ff', 'hex') })).toBe(false);
    expect(await formats.loadAll()).toEqual([expect.objectContaining({ ...format })]);
  });

  it('stores and rotates encrypted keys, reports changes since a time and notifies listeners', async () => {
    const keys = new MeterKeyRepository(db.pool);
    const record = {
      ciphertext: Buffer.alloc(16, 1),
      iv: Buffer.alloc(12, 2),
      tag: Buffer.alloc(16, 3),
      fingerprint: 'fp-1',
    };
    const changed: string[] = [];
    const stop = await keys.listen((meterId) => changed.push(meterId));
    try {
      const first = await keys.store('12345678', record);
      expect(first.version).toBe(1);
      const rotated = await keys.store('12345678', { ...record, fingerprint: 'fp-2' });
      expect(rotated.version).toBe(2);
      expect(await keys.loadChangedSince(rotated.setAt)).toEqual([
        expect.objectContaining({ fingerprint: 'fp-2' }),
      ]);
      expect(await keys.loadChangedSince(new Date(rotated.setAt.getTime() + 1))).toEqual([]);
      expect((await keys.load('12345678'))?.ciphertext).toEqual(record.ciphertext);
      for (let i = 0; i < 50 && changed.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      expect(changed).toEqual(['12345678', '12345678']);
    } finally {
      await stop();
    }
    await expect(keys.store('77777777', record)).rejects.toThrow(/foreign key/);
  });

  it('writes events idempotently and acknowledges them once', async () => {
    const events = new EventWriter(db.pool);
    const ts = new Date('2026-02-01T00:00:00Z');
    const batch = [
      { meterId: '12345678', ts, kind: 'leak' as const, details: { hours: 3 } },
      { meterId: '12345678', ts, kind: 'low_battery' as const },
    ];
    expect(await events.write(batch)).toEqual({ inserted: 2, duplicates: 0 });
    expect(await events.write(batch)).toEqual({ inserted: 0, duplicates: 2 });
    const { rows } = await db.pool.query(`SELECT id, details FROM events WHERE kind = 'leak'`);
    expect(rows[0].details).toEqual({ hours: 3 });
    expect(await events.acknowledge(Number(rows[0].id), 'operator-1')).toBe(true);
    expect(await events.acknowledge(Number(rows[0].id), 'operator-2')).toBe(false);
  });

  it('authenticates gateways by key hash until revoked, and answers retried handheld uploads from the first result', async () => {
    const gateways = new GatewayRepository(db.pool);
    await gateways.create({ id: 'gw-1', name: 'Roof', apiKeyHash: 'sha256:abc' });
    expect((await gateways.findActiveByKeyHash('sha256:abc'))?.id).toBe('gw-1');
    expect(await gateways.revoke('gw-1')).toBe(true);
    expect(await gateways.findActiveByKeyHash('sha256:abc')).toBeUndefined();

    const uploads = new HandheldUploadRepository(db.pool);
    const first = await uploads.record('upload-1', 3, { accepted: 3 });
    const retry = await uploads.record('upload-1', 3, { accepted: 0 });
    expect(first.created).toBe(true);
    expect(retry).toEqual({
      created: false,
      upload: expect.objectContaining({ itemCount: 3, result: { accepted: 3 } }),
    });
  });
});
