/**
 * LatestReadings answers the same from Redis, from the database after Redis lost a meter's hash, and from the
 * database while Redis is unreachable; readings are stored with the real ReadingWriter (plain dialect) and
 * cached with the real ReadingCache, as the decryptor does.
 */
import { ReadingCache, type CachedReading } from '@hes/cache';
import { ReadingWriter, createPool, runMigrations, type Reading } from '@hes/storage';
import { createTestDatabase, uniqueName, type TestDatabase } from '@hes/testing';
import Redis from 'ioredis';
import type { Pool } from 'pg';
import { LatestReadings } from './latest-readings';

jest.setTimeout(30_000);

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const withoutFloor = (meterIds: string[]) => meterIds.map((meterId) => ({ meterId, historyFrom: null }));

describe('LatestReadings', () => {
  let db: TestDatabase;
  let pool: Pool;
  let cache: ReadingCache;
  let unreachable: ReadingCache;

  const t0 = Date.UTC(2026, 10, 20, 8, 0, 0, 123);
  const reading = (
    meterId: string,
    quantity: string,
    minutes: number,
    value: number,
    storage = 0,
  ): Reading => ({
    meterId,
    ts: new Date(t0 + minutes * 60_000),
    quantity,
    storage,
    tariff: 0,
    unit: quantity.endsWith('_c') ? 'c' : 'm3',
    value,
    source: 'gateway',
  });
  const cached = (r: Reading): CachedReading => ({ ...r, meterGroup: '1', ts: r.ts.getTime() });

  beforeAll(async () => {
    db = await createTestDatabase('hes_latest');
    await runMigrations(db.url);
    pool = createPool(db.url, { max: 3 });
    cache = new ReadingCache({ url: REDIS_URL, keyPrefix: `${uniqueName('hes_latest')}:` });
    await cache.connect();
    // Nothing listens on port 1: every cache call fails at once, as during an outage.
    unreachable = new ReadingCache({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 200 });
    await unreachable.connect();

    const readings = [
      reading('1234ABCD', 'total_m3', 0, 10.5),
      reading('1234ABCD', 'total_m3', 30, 10.75),
      reading('1234ABCD', 'flow_temperature_c', 30, 14),
      reading('1234ABCD', 'target_m3', 0, 9.25, 1),
      reading('5678EF01', 'total_m3', 60, 3),
    ];
    // A back-dated reading stored (and cached) after the newer one must not become "latest" on either path.
    const backDated = reading('1234ABCD', 'total_m3', -30, 10.25);
    const writer = new ReadingWriter(pool);
    await writer.write(readings);
    await cache.applyReadings(readings.map(cached), t0);
    await writer.write([backDated]);
    await cache.applyReadings([cached(backDated)], t0);
  });

  afterAll(async () => {
    await cache?.close();
    await unreachable?.close();
    await pool?.end();
    await db?.drop();
  });

  const expected = {
    '1234ABCD': [
      {
        quantity: 'flow_temperature_c',
        storage: 0,
        tariff: 0,
        unit: 'c',
        value: 14,
        ts: '2026-11-20T08:30:00.123Z',
      },
      {
        quantity: 'target_m3',
        storage: 1,
        tariff: 0,
        unit: 'm3',
        value: 9.25,
        ts: '2026-11-20T08:00:00.123Z',
      },
      {
        quantity: 'total_m3',
        storage: 0,
        tariff: 0,
        unit: 'm3',
        value: 10.75,
        ts: '2026-11-20T08:30:00.123Z',
      },
    ],
    '5678EF01': [
      { quantity: 'total_m3', storage: 0, tariff: 0, unit: 'm3', value: 3, ts: '2026-11-20T09:00:00.123Z' },
    ],
    '0000FFFF': [],
  };

  it('answers from Redis', async () => {
    const latest = new LatestReadings(pool, cache);
    expect(Object.fromEntries(await latest.ofMeters(withoutFloor(Object.keys(expected))))).toEqual(expected);
  });

  it('answers the same from the database for a meter Redis has nothing for', async () => {
    // Proves the database path runs: Redis now holds a different value for the other meter only.
    await cache.applyReadings([cached(reading('5678EF01', 'total_m3', 90, 4))], t0);
    await pool.query(`DELETE FROM readings WHERE meter_id = '5678EF01'`);
    const redis = new Redis(REDIS_URL);
    await redis.del(cache.keys.latest('1234ABCD'));
    redis.disconnect();
    const latest = new LatestReadings(pool, cache);
    const answer = Object.fromEntries(await latest.ofMeters(withoutFloor(Object.keys(expected))));
    expect(answer['1234ABCD']).toEqual(expected['1234ABCD']);
    expect(answer['5678EF01']).toEqual([
      { ...expected['5678EF01'][0], value: 4, ts: '2026-11-20T09:30:00.123Z' },
    ]);
    expect(await latest.ofMeter('1234ABCD', null)).toEqual(expected['1234ABCD']);
  });

  it('answers from the database for every meter while Redis is unavailable', async () => {
    const latest = new LatestReadings(pool, unreachable);
    expect(await latest.ofMeter('1234ABCD', null)).toEqual(expected['1234ABCD']);
    expect(Object.fromEntries(await latest.ofMeters(withoutFloor(['1234ABCD', '0000FFFF'])))).toEqual({
      '1234ABCD': expected['1234ABCD'],
      '0000FFFF': [],
    });
  });
});
