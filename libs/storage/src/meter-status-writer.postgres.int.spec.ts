import { MeterStatusWriter } from './meter-status-writer';
import { runMigrations } from './migrate';
import { TestDatabase, createTestDatabase } from '../test/postgres-database';

interface StatusRow {
  meter_id: string;
  last_seen_at: Date;
  last_rssi_dbm: number | null;
  last_source: string;
  last_gateway_id: string | null;
  status_flags: string[];
}

describe('MeterStatusWriter on real PostgreSQL 15', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('hes_meter_status');
    await runMigrations(db.pool, { dialect: 'postgres' });
  });

  afterAll(async () => {
    await db.drop();
  });

  beforeEach(async () => {
    await db.pool.query('TRUNCATE meter_status');
  });

  async function rows(): Promise<StatusRow[]> {
    return (
      await db.pool.query<StatusRow>(
        `SELECT meter_id, last_seen_at, last_rssi_dbm, last_source, last_gateway_id, status_flags
         FROM meter_status ORDER BY meter_id`,
      )
    ).rows;
  }

  it('coalesces many sightings per meter into one row each, keeping the newest, in one statement', async () => {
    const writer = new MeterStatusWriter(db.pool, { flushIntervalMs: 60_000 });
    const base = Date.parse('2026-11-24T10:00:00Z');
    for (let i = 0; i < 50; i++) {
      writer.record({
        meterId: 'abcdef01',
        seenAt: new Date(base + i * 1000),
        rssiDbm: -60 - i,
        source: 'gateway',
        gatewayId: `gw-${i}`,
        statusFlags: i === 49 ? ['LEAK', 'POWER_LOW'] : [],
      });
    }
    // An older sighting recorded after the newest one does not replace it.
    writer.record({ meterId: 'ABCDEF01', seenAt: new Date(base), rssiDbm: -10, source: 'handheld' });
    writer.record({ meterId: '12345678', seenAt: new Date(base + 5000), source: 'mqtt' });
    expect(writer.pendingCount).toBe(2);

    const query = jest.spyOn(db.pool, 'query');
    try {
      expect(await writer.flush()).toBe(2);
      expect(query).toHaveBeenCalledTimes(1);
    } finally {
      query.mockRestore();
    }
    expect(writer.pendingCount).toBe(0);
    expect(await rows()).toEqual([
      {
        meter_id: '12345678',
        last_seen_at: new Date(base + 5000),
        last_rssi_dbm: null,
        last_source: 'mqtt',
        last_gateway_id: null,
        status_flags: [],
      },
      {
        meter_id: 'ABCDEF01',
        last_seen_at: new Date(base + 49_000),
        last_rssi_dbm: -109,
        last_source: 'gateway',
        last_gateway_id: 'gw-49',
        status_flags: ['LEAK', 'POWER_LOW'],
      },
    ]);
    expect(await writer.flush()).toBe(0);
  });

  it('never moves a meter’s last sighting back when a late telegram is flushed after a newer one', async () => {
    const writer = new MeterStatusWriter(db.pool, { flushIntervalMs: 60_000 });
    writer.record({
      meterId: '11111111',
      seenAt: new Date('2026-11-24T12:00:00Z'),
      rssiDbm: -70,
      source: 'gateway',
      gatewayId: 'gw-new',
      statusFlags: ['BURST'],
    });
    await writer.flush();
    writer.record({
      meterId: '11111111',
      seenAt: new Date('2026-11-24T11:00:00Z'),
      rssiDbm: -90,
      source: 'handheld',
      statusFlags: [],
    });
    writer.record({ meterId: '22222222', seenAt: new Date('2026-11-24T11:00:00Z'), source: 'handheld' });
    await writer.flush();
    const stored = await rows();
    expect(stored[0]).toEqual(
      expect.objectContaining({
        meter_id: '11111111',
        last_seen_at: new Date('2026-11-24T12:00:00Z'),
        last_gateway_id: 'gw-new',
        status_flags: ['BURST'],
      }),
    );
    expect(stored[1]).toEqual(expect.objectContaining({ meter_id: '22222222', last_source: 'handheld' }));

    writer.record({ meterId: '11111111', seenAt: new Date('2026-11-24T13:00:00Z'), source: 'mqtt' });
    await writer.flush();
    expect((await rows())[0]).toEqual(
      expect.objectContaining({
        last_seen_at: new Date('2026-11-24T13:00:00Z'),
        last_source: 'mqtt',
        last_gateway_id: null,
        status_flags: [],
      }),
    );
  });

  it('flushes on the interval and once more on stop', async () => {
    const writer = new MeterStatusWriter(db.pool, { flushIntervalMs: 50 });
    writer.start();
    writer.record({ meterId: '33333333', seenAt: new Date('2026-11-24T10:00:00Z'), source: 'gateway' });
    const deadline = Date.now() + 5000;
    while ((await rows()).length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect((await rows()).map((row) => row.meter_id)).toEqual(['33333333']);

    writer.record({ meterId: '44444444', seenAt: new Date('2026-11-24T10:00:00Z'), source: 'gateway' });
    await writer.stop();
    expect((await rows()).map((row) => row.meter_id)).toEqual(['33333333', '44444444']);
    expect(writer.pendingCount).toBe(0);
  });

  it('keeps the sightings of a failed flush for the next one, where newer sightings still win', async () => {
    const failing = new MeterStatusWriter(db.pool, { flushIntervalMs: 60_000 });
    failing.record({ meterId: '55555555', seenAt: new Date('2026-11-24T10:00:00Z'), source: 'gateway' });
    failing.record({ meterId: '66666666', seenAt: new Date('2026-11-24T10:00:00Z'), source: 'gateway' });
    await db.pool.query('ALTER TABLE meter_status RENAME TO meter_status_away');
    try {
      await expect(failing.flush()).rejects.toThrow(/meter_status/);
    } finally {
      await db.pool.query('ALTER TABLE meter_status_away RENAME TO meter_status');
    }
    expect(failing.pendingCount).toBe(2);
    failing.record({ meterId: '55555555', seenAt: new Date('2026-11-24T10:05:00Z'), source: 'mqtt' });
    expect(await failing.flush()).toBe(2);
    const stored = await rows();
    expect(stored.map((row) => [row.meter_id, row.last_source])).toEqual([
      ['55555555', 'mqtt'],
      ['66666666', 'gateway'],
    ]);
  });

  it('writes 20,000 meters in one statement', async () => {
    const writer = new MeterStatusWriter(db.pool, { flushIntervalMs: 60_000 });
    const seenAt = new Date('2026-11-24T10:00:00Z');
    for (let i = 0; i < 20_000; i++) {
      writer.record({
        meterId: i.toString(16).padStart(8, '0'),
        seenAt,
        rssiDbm: -80,
        source: 'gateway',
        gatewayId: 'gw-1',
      });
    }
    expect(await writer.flush()).toBe(20_000);
    const count = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM meter_status');
    expect(count.rows[0].n).toBe(20_000);
  });
});
