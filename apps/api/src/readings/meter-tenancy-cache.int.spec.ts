/**
 * MeterTenancyCache against a real PostgreSQL with the migrations' triggers: a remembered meter's move or delete
 * is seen by the next lookup once the UPDATE/DELETE has committed (no time-to-live), and without the listening
 * connection nothing is remembered. A change made with session_replication_role = replica fires no trigger, so
 * it stands for a notification that never arrives: it shows what the cache remembers.
 */
import { createPool, runMigrations } from '@hes/storage';
import { createTestDatabase, type TestDatabase } from '@hes/testing';
import type { Pool } from 'pg';
import { METER_TENANCY_LISTENER_NAME, MeterTenancyCache } from './meter-tenancy-cache';

jest.setTimeout(60_000);

describe('MeterTenancyCache', () => {
  let db: TestDatabase;
  let pool: Pool;
  let societyA: string;
  let societyB: string;
  const caches: MeterTenancyCache[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    await runMigrations(db.url);
    pool = createPool(db.url, { max: 3 });
    const societies = await pool.query<{ id: string }>(
      `INSERT INTO societies (name) VALUES ('a'), ('b') RETURNING id`,
    );
    [societyA, societyB] = societies.rows.map((row) => row.id);
  });

  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  beforeEach(async () => {
    await pool.query('DELETE FROM meters');
    await pool.query('DELETE FROM meter_departures');
    await pool.query(
      `INSERT INTO meters (meter_id, manufacturer, device_type, version, society_id)
       VALUES ('AAAA0001', 'KAM', 22, 27, $1), ('AAAA0002', 'KAM', 22, 27, $1)`,
      [societyA],
    );
  });

  afterEach(async () => {
    await Promise.all(caches.splice(0).map((cache) => cache.close()));
  });

  async function listeningCache(reconnectDelayMs = 60_000): Promise<MeterTenancyCache> {
    const cache = new MeterTenancyCache(pool, { reconnectDelayMs });
    caches.push(cache);
    await cache.listen();
    expect(cache.listening).toBe(true);
    return cache;
  }

  /** Moves a meter without firing the triggers: no notification. */
  async function moveUnannounced(meterId: string, societyId: string): Promise<void> {
    const client = await pool.connect();
    try {
      await client.query('SET session_replication_role = replica');
      await client.query('UPDATE meters SET society_id = $1 WHERE meter_id = $2', [societyId, meterId]);
    } finally {
      await client.query('RESET session_replication_role');
      client.release();
    }
  }

  /**
   * Lets the cache's connection deliver what PostgreSQL sent it at the commit just returned: at most a few
   * database round trips (I/O turns of this process), until `settled` holds. No time-to-live is involved.
   */
  async function afterDelivery(settled: () => boolean | Promise<boolean>): Promise<void> {
    for (let turn = 0; turn < 20 && !(await settled()); turn++) await pool.query('SELECT 1');
  }

  it('remembers a meter while listening', async () => {
    const cache = await listeningCache();
    expect(await cache.get('AAAA0001')).toEqual({
      meterId: 'AAAA0001',
      societyId: societyA,
      groupId: 1,
      historyFrom: null,
    });
    await moveUnannounced('AAAA0001', societyB);
    expect((await cache.get('AAAA0001'))?.societyId).toBe(societyA);
    expect(cache.size).toBe(1);
  });

  it('sees a move to another society or group as soon as the UPDATE has committed', async () => {
    const cache = await listeningCache();
    expect((await cache.get('AAAA0001'))?.societyId).toBe(societyA);
    expect((await cache.get('AAAA0002'))?.societyId).toBe(societyA);
    await pool.query(`UPDATE meters SET society_id = $1 WHERE meter_id = 'AAAA0001'`, [societyB]);
    await afterDelivery(() => cache.size === 1);
    expect((await cache.get('AAAA0001'))?.societyId).toBe(societyB);
    await pool.query(`INSERT INTO meter_groups (id, name) VALUES (7, 'seven') ON CONFLICT DO NOTHING`);
    await pool.query(`UPDATE meters SET group_id = 7 WHERE meter_id = 'AAAA0002'`);
    await afterDelivery(() => cache.size === 1);
    expect((await cache.get('AAAA0002'))?.groupId).toBe(7);
  });

  it('forgets a meter whose history floor changes, and reads the new floor', async () => {
    const cache = await listeningCache();
    expect((await cache.get('AAAA0001'))?.historyFrom).toBeNull();
    const before = Date.now();
    await pool.query(`UPDATE meters SET society_id = $1 WHERE meter_id = 'AAAA0001'`, [societyB]);
    await afterDelivery(() => cache.size === 0);
    const moved = await cache.get('AAAA0001');
    expect(moved?.societyId).toBe(societyB);
    expect(moved?.historyFrom?.getTime()).toBeGreaterThanOrEqual(before - 1_000);

    await pool.query(`UPDATE meters SET history_from = NULL WHERE meter_id = 'AAAA0001'`);
    await afterDelivery(() => cache.size === 0);
    expect((await cache.get('AAAA0001'))?.historyFrom).toBeNull();
  });

  it('forgets a deleted meter as soon as the DELETE has committed', async () => {
    const cache = await listeningCache();
    expect(await cache.get('AAAA0001')).toBeDefined();
    await pool.query(`DELETE FROM meters WHERE meter_id = 'AAAA0001'`);
    await afterDelivery(() => cache.size === 0);
    expect(await cache.get('AAAA0001')).toBeUndefined();
    expect(await cache.get('AAAA0002')).toBeDefined();
  });

  it('does not notify an UPDATE that leaves society and group as they were', async () => {
    const listener = await pool.connect();
    const payloads: string[] = [];
    listener.on('notification', (message) => payloads.push(message.payload ?? ''));
    try {
      await listener.query('LISTEN hes_meter_tenancy');
      await pool.query(`UPDATE meters SET society_id = society_id, version = 28 WHERE meter_id = 'AAAA0001'`);
      await pool.query(`UPDATE meters SET society_id = $1 WHERE meter_id = 'AAAA0002'`, [societyB]);
      await listener.query('SELECT 1');
      expect(payloads).toEqual(['AAAA0002']);
    } finally {
      await listener.query('UNLISTEN *');
      listener.release();
    }
  });

  it('remembers nothing before it listens, once the listening connection is lost, and again after reconnecting', async () => {
    const idle = new MeterTenancyCache(pool);
    caches.push(idle);
    await idle.get('AAAA0001');
    expect(idle.size).toBe(0);

    const cache = await listeningCache();
    await cache.get('AAAA0001');
    expect(cache.size).toBe(1);
    const terminated = await pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE application_name = $1 AND datname = current_database()`,
      [METER_TENANCY_LISTENER_NAME],
    );
    expect(terminated.rowCount).toBeGreaterThanOrEqual(1);
    await afterDelivery(() => !cache.listening);
    expect(cache.listening).toBe(false);
    expect(cache.size).toBe(0);

    await moveUnannounced('AAAA0001', societyB);
    expect((await cache.get('AAAA0001'))?.societyId).toBe(societyB);
    await moveUnannounced('AAAA0001', societyA);
    expect((await cache.get('AAAA0001'))?.societyId).toBe(societyA);
    expect(cache.size).toBe(0);

    await cache.listen();
    expect(cache.listening).toBe(true);
    await cache.get('AAAA0001');
    expect(cache.size).toBe(1);
  });

  it('holds at most maxEntries meters, the oldest making room', async () => {
    const cache = new MeterTenancyCache(pool, { maxEntries: 1 });
    caches.push(cache);
    await cache.listen();
    await cache.get('AAAA0001');
    await cache.get('AAAA0002');
    expect(cache.size).toBe(1);
    await moveUnannounced('AAAA0001', societyB);
    await moveUnannounced('AAAA0002', societyB);
    expect((await cache.get('AAAA0002'))?.societyId).toBe(societyA);
    expect((await cache.get('AAAA0001'))?.societyId).toBe(societyB);
  });
});
