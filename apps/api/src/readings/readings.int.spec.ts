/**
 * The readings API over the real stack: readings stored with the real ReadingWriter (plain dialect, rollups
 * maintained by the writer), latest values through the real ReadingCache. Covers cursor pagination with equal
 * timestamps across quantities, aggregates against sums over the raw rows, billing consumption with gaps,
 * resets, boundaries inside a bucket and back-dated boundary readings, the exact CSV export, and tenant isolation
 * on every endpoint.
 */
import type { CachedReading } from '@hes/cache';
import { ReadingWriter, type Reading } from '@hes/storage';
import { createMeter, createUser, login, startHarness, type ApiHarness } from '../test-harness';
import { registerReading } from '../../../../libs/storage/test/readings-fixture';
import { CONSUMPTION_CSV_COLUMNS } from './readings-query';
import { MeterTenancyCache } from './meter-tenancy-cache';

jest.setTimeout(60_000);

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 10, 20, 8, 0, 0); // 2026-11-20T08:00:00Z

/** AAAA0001: three series reporting at the same instants every 20 minutes (equal ts across quantities). */
function meterOneReadings(): Reading[] {
  const readings: Reading[] = [];
  for (let i = 0; i < 12; i++) {
    const ts = new Date(T0 + i * 20 * MINUTE);
    readings.push(
      {
        meterId: 'AAAA0001',
        ts,
        quantity: 'total_m3',
        storage: 0,
        tariff: 0,
        unit: 'm3',
        value: 100 + i * 0.125,
        source: 'gateway',
      },
      {
        meterId: 'AAAA0001',
        ts,
        quantity: 'flow_temperature_c',
        storage: 0,
        tariff: 0,
        unit: 'c',
        value: 10 + ((i * 7) % 5),
        source: 'gateway',
      },
      {
        meterId: 'AAAA0001',
        ts,
        quantity: 'target_m3',
        storage: 1,
        tariff: 0,
        unit: 'm3',
        value: 90,
        source: 'gateway',
      },
    );
  }
  return readings;
}

const register = registerReading;

/** AAAA0002: a billing register with a 30.75-hour gap and a reset; r1 is back-dated (stored last). */
const BACK_DATED = register('AAAA0002', '2026-10-31T23:50:00Z', 100);
const METER_TWO = [
  register('AAAA0002', '2026-11-01T00:10:00Z', 100.5),
  register('AAAA0002', '2026-11-01T01:10:00Z', 101),
  register('AAAA0002', '2026-11-01T01:25:00Z', 101.2),
  register('AAAA0002', '2026-11-02T08:10:00Z', 110),
  register('AAAA0002', '2026-11-02T09:10:00Z', 111),
  register('AAAA0002', '2026-11-02T10:10:00Z', 2),
  register('AAAA0002', '2026-11-02T11:10:00Z', 3),
  register('AAAA0002', '2026-11-01T00:10:00Z', 95, 'target_m3', 1),
  register('AAAA0002', '2026-11-02T00:10:00Z', 99, 'target_m3', 1),
];

describe('readings API', () => {
  let harness: ApiHarness;
  let adminA: string;
  let societyA: string;
  let societyB: string;
  const as = (token: string) => ({
    get: (url: string) => harness.http().get(`/api/v1${url}`).auth(token, { type: 'bearer' }),
  });

  beforeAll(async () => {
    harness = await startHarness();
    const { pool } = harness;
    societyA = (await pool.query(`INSERT INTO societies (name) VALUES ('A') RETURNING id`)).rows[0].id;
    societyB = (await pool.query(`INSERT INTO societies (name) VALUES ('B') RETURNING id`)).rows[0].id;
    for (const meterId of ['AAAA0001', 'AAAA0002', 'AAAA0003']) await createMeter(pool, meterId, societyA);
    await createMeter(pool, 'BBBB0001', societyB);
    await pool.query(`INSERT INTO meter_groups (id, name) VALUES (2, 'billing run 2')`);
    await pool.query(`UPDATE meters SET group_id = 2 WHERE meter_id IN ('AAAA0002', 'AAAA0003', 'BBBB0001')`);
    await createUser(pool, 'admin-a@example.org', [{ societyId: societyA, role: 'society_admin' }]);
    adminA = (await login(harness, 'admin-a@example.org')).accessToken;

    const writer = new ReadingWriter(pool);
    const one = meterOneReadings();
    // Two out-of-order batches: the writer's rollup merge must give the same buckets as one batch.
    await writer.write(one.slice(18));
    await writer.write(one.slice(0, 18));
    await writer.write([...METER_TWO, register('BBBB0001', '2026-11-01T00:10:00Z', 7)]);
    await writer.write([BACK_DATED]);
    await writer.write(meterOneReadings().map((r) => ({ ...r, meterId: 'BBBB0001' })));
  });

  afterAll(async () => {
    await harness?.close();
  });

  describe('GET /meters/{id}/readings', () => {
    it('pages through every row exactly once in (ts, quantity, storage, tariff) order', async () => {
      const expected = meterOneReadings()
        .sort(
          (a, b) =>
            a.ts.getTime() - b.ts.getTime() ||
            (a.quantity < b.quantity ? -1 : a.quantity > b.quantity ? 1 : 0) ||
            a.storage - b.storage,
        )
        .map((r) => ({
          ts: r.ts.toISOString(),
          quantity: r.quantity,
          storage: r.storage,
          tariff: 0,
          unit: r.unit,
          value: r.value,
          source: 'gateway',
          quality: 0,
        }));
      const seen: unknown[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const response: { body: { items: unknown[]; nextCursor: string | null } } = await as(adminA)
          .get('/meters/aaaa0001/readings')
          .query({ from: '2026-11-20', to: '2026-11-21T00:00:00Z', limit: 7, ...(cursor ? { cursor } : {}) })
          .expect(200);
        expect(response.body).toMatchObject({ meterId: 'AAAA0001', from: '2026-11-20T00:00:00.000Z' });
        seen.push(...response.body.items);
        cursor = response.body.nextCursor;
        pages++;
      } while (cursor !== null);
      expect(pages).toBe(Math.ceil(36 / 7));
      expect(seen).toEqual(expected);
    });

    it('filters by quantity and keeps from inclusive, to exclusive', async () => {
      const response = await as(adminA)
        .get('/meters/AAAA0001/readings')
        .query({ from: '2026-11-20T08:20:00Z', to: '2026-11-20T09:00:00Z', quantity: 'total_m3,target_m3' })
        .expect(200);
      expect(
        response.body.items.map((r: { ts: string; quantity: string }) => `${r.ts} ${r.quantity}`),
      ).toEqual([
        '2026-11-20T08:20:00.000Z target_m3',
        '2026-11-20T08:20:00.000Z total_m3',
        '2026-11-20T08:40:00.000Z target_m3',
        '2026-11-20T08:40:00.000Z total_m3',
      ]);
      expect(response.body.nextCursor).toBeNull();
    });

    it('refuses bad parameters with field-level errors', async () => {
      const api = as(adminA);
      const details = async (query: Record<string, string>) =>
        (await api.get('/meters/AAAA0001/readings').query(query).expect(400)).body.error.details;
      expect(await details({ from: '2026-11-20T08:00:00' })).toEqual([
        { field: 'from', message: expect.stringContaining('ISO 8601') },
      ]);
      expect(await details({ from: '2026-11-21', to: '2026-11-20' })).toEqual([
        { field: 'to', message: 'must be after from' },
      ]);
      expect(await details({ limit: '10001' })).toEqual([{ field: 'limit', message: expect.any(String) }]);
      expect(await details({ cursor: 'bm90IGEgY3Vyc29y' })).toEqual([
        { field: 'cursor', message: 'is not a cursor this endpoint returned' },
      ]);
      const badId = await api.get('/meters/XYZ/readings').expect(400);
      expect(badId.body.error.details).toEqual([{ field: 'id', message: 'must be 8 hex digits' }]);
    });
  });

  describe('GET /meters/{id}/latest', () => {
    it('answers the same from Redis and from the database', async () => {
      const fromDatabase = (await as(adminA).get('/meters/AAAA0001/latest').expect(200)).body;
      expect(fromDatabase.values).toEqual([
        {
          quantity: 'flow_temperature_c',
          storage: 0,
          tariff: 0,
          unit: 'c',
          value: 10 + ((11 * 7) % 5),
          ts: '2026-11-20T11:40:00.000Z',
        },
        {
          quantity: 'target_m3',
          storage: 1,
          tariff: 0,
          unit: 'm3',
          value: 90,
          ts: '2026-11-20T11:40:00.000Z',
        },
        {
          quantity: 'total_m3',
          storage: 0,
          tariff: 0,
          unit: 'm3',
          value: 100 + 11 * 0.125,
          ts: '2026-11-20T11:40:00.000Z',
        },
      ]);
      const cached: CachedReading[] = meterOneReadings().map((r) => ({
        ...r,
        meterGroup: '1',
        ts: r.ts.getTime(),
      }));
      await harness.readingCache.applyReadings(cached, T0);
      // Redis now holds the meter: a value only Redis has proves this answer came from the cache.
      const fromRedis = (await as(adminA).get('/meters/AAAA0001/latest').expect(200)).body;
      expect(fromRedis).toEqual(fromDatabase);
      await harness.readingCache.applyReadings([{ ...cached[0], ts: T0 + 24 * 60 * MINUTE, value: 1 }], T0);
      const newer = (await as(adminA).get('/meters/AAAA0001/latest').expect(200)).body.values;
      expect(newer[2]).toEqual({ ...fromDatabase.values[2], value: 1, ts: '2026-11-21T08:00:00.000Z' });
    });
  });

  describe('GET /meters/{id}/aggregates', () => {
    const raw = meterOneReadings();
    /** Expected buckets straight from the raw rows. */
    function expectedBuckets(quantity: string, bucketStart: (ms: number) => number) {
      const buckets = new Map<number, Reading[]>();
      for (const r of raw.filter((x) => x.quantity === quantity)) {
        const start = bucketStart(r.ts.getTime());
        buckets.set(start, [...(buckets.get(start) ?? []), r]);
      }
      return [...buckets.entries()].map(([start, rows]) => {
        const values = rows.map((r) => r.value);
        const sum = values.reduce((a, b) => a + b, 0);
        return {
          start: new Date(start).toISOString(),
          firstTs: rows[0].ts.toISOString(),
          first: values[0],
          lastTs: rows[rows.length - 1].ts.toISOString(),
          last: values[values.length - 1],
          min: Math.min(...values),
          max: Math.max(...values),
          avg: expect.closeTo(sum / values.length, 9),
          sum: expect.closeTo(sum, 9),
          count: values.length,
        };
      });
    }

    it.each([
      ['30m', (ms: number) => ms - (ms % (30 * MINUTE))],
      ['1h', (ms: number) => ms - (ms % (60 * MINUTE))],
      ['1d', (ms: number) => ms - (ms % (24 * 60 * MINUTE))],
      ['1mo', (ms: number) => Date.UTC(new Date(ms).getUTCFullYear(), new Date(ms).getUTCMonth(), 1)],
    ])(
      '%s buckets match first/last/min/max/avg/sum/count over the raw rows',
      async (interval, bucketStart) => {
        const response = await as(adminA)
          .get('/meters/AAAA0001/aggregates')
          .query({ interval, from: '2026-11-20', to: '2026-11-21', quantity: 'flow_temperature_c' })
          .expect(200);
        expect(response.body).toMatchObject({ meterId: 'AAAA0001', interval, tz: 'UTC' });
        expect(response.body.series).toEqual([
          {
            quantity: 'flow_temperature_c',
            storage: 0,
            tariff: 0,
            unit: 'c',
            buckets: expectedBuckets('flow_temperature_c', bucketStart),
          },
        ]);
      },
    );

    it('starts days in the time zone asked for and reports bucket starts in UTC', async () => {
      const response = await as(adminA)
        .get('/meters/AAAA0001/aggregates')
        .query({
          interval: '1d',
          from: '2026-11-19',
          to: '2026-11-21',
          quantity: 'total_m3',
          tz: 'Pacific/Kiritimati',
        })
        .expect(200);
      // UTC+14: 08:00-11:40Z on the 20th is 22:00-01:40 local, across local midnight (10:00Z).
      expect(
        response.body.series[0].buckets.map((b: { start: string; count: number }) => [b.start, b.count]),
      ).toEqual([
        ['2026-11-19T10:00:00.000Z', 6],
        ['2026-11-20T10:00:00.000Z', 6],
      ]);
      const badTz = await as(adminA)
        .get('/meters/AAAA0001/aggregates')
        .query({ interval: '1d', tz: 'Mars/Olympus' })
        .expect(400);
      expect(badTz.body.error.details).toEqual([{ field: 'tz', message: expect.stringContaining('IANA') }]);
    });
  });

  describe('consumption', () => {
    const period = { from: '2026-11-01T00:00:00Z', to: '2026-11-02T12:00:00Z' };

    it('takes the last reading at or before each boundary (a back-dated one), flags the gap and the reset', async () => {
      const response = await as(adminA).get('/meters/AAAA0002/consumption').query(period).expect(200);
      expect(response.body).toEqual({
        meterId: 'AAAA0002',
        quantity: 'total_m3',
        unit: 'm3',
        from: '2026-11-01T00:00:00.000Z',
        to: '2026-11-02T12:00:00.000Z',
        start: { ts: '2026-10-31T23:50:00.000Z', value: 100, afterBoundary: false },
        end: { ts: '2026-11-02T11:10:00.000Z', value: 3, afterBoundary: false },
        delta: -97,
        gapCount: 1,
        longestGapHours: 30.75,
        firstGapFrom: '2026-11-01T01:25:00.000Z',
        decreases: 1,
        target: { quantity: 'target_m3', storage: 1, unit: 'm3', value: 99, ts: '2026-11-02T00:10:00.000Z' },
        flags: ['gap', 'reset'],
      });
    });

    it('reads the raw rows when a boundary falls inside a bucket with readings on both sides', async () => {
      const response = await as(adminA)
        .get('/meters/AAAA0002/consumption')
        .query({ from: '2026-11-01T01:20:00Z', to: '2026-11-02T09:30:00Z', gapHours: 36 })
        .expect(200);
      expect(response.body).toMatchObject({
        start: { ts: '2026-11-01T01:10:00.000Z', value: 101, afterBoundary: false },
        end: { ts: '2026-11-02T09:10:00.000Z', value: 111, afterBoundary: false },
        delta: 10,
        gapCount: 0,
        longestGapHours: 30.75,
        decreases: 0,
        flags: [],
      });
    });

    it('uses the first reading after a boundary when there is none before it, and flags it', async () => {
      const response = await as(adminA)
        .get('/meters/AAAA0002/consumption')
        .query({ from: '2026-10-31T00:00:00Z', to: '2026-10-31T12:00:00Z' })
        .expect(200);
      expect(response.body).toMatchObject({
        start: { ts: '2026-10-31T23:50:00.000Z', value: 100, afterBoundary: true },
        end: { ts: '2026-10-31T23:50:00.000Z', value: 100, afterBoundary: true },
        delta: 0,
        target: null,
        flags: ['start_after_period_start', 'end_after_period_end'],
      });
      const never = await as(adminA).get('/meters/AAAA0003/consumption').query(period).expect(200);
      expect(never.body).toMatchObject({
        start: null,
        end: null,
        delta: null,
        unit: null,
        flags: ['no_readings'],
      });
    });

    it("exports a group's consumption as CSV: only the caller's meters, one row per meter", async () => {
      const expected =
        `${CONSUMPTION_CSV_COLUMNS.join(',')}\r\n` +
        'AAAA0002,total_m3,m3,2026-11-01T00:00:00.000Z,2026-11-02T12:00:00.000Z,2026-10-31T23:50:00.000Z,100,false,' +
        '2026-11-02T11:10:00.000Z,3,false,-97,1,30.75,1,target_m3,m3,99,2026-11-02T00:10:00.000Z,gap|reset\r\n' +
        'AAAA0003,total_m3,,2026-11-01T00:00:00.000Z,2026-11-02T12:00:00.000Z,,,,,,,,0,0,0,,,,,no_readings\r\n';
      const byFormat = await as(adminA)
        .get('/meter-groups/2/consumption')
        .query({ ...period, format: 'csv' })
        .expect(200);
      expect(byFormat.headers['content-type']).toBe('text/csv; charset=utf-8');
      expect(byFormat.text).toBe(expected);
      const byAccept = await as(adminA)
        .get('/meter-groups/2/consumption')
        .query(period)
        .set('Accept', 'text/csv')
        .expect(200);
      expect(byAccept.text).toBe(expected);
    });

    it("pages a society's consumption by meter id", async () => {
      const api = as(adminA);
      const first = await api
        .get(`/societies/${societyA}/consumption`)
        .query({ ...period, limit: 2 })
        .expect(200);
      expect(first.body.items.map((i: { meterId: string }) => i.meterId)).toEqual(['AAAA0001', 'AAAA0002']);
      expect(first.body.nextCursor).toBe('AAAA0002');
      const second = await api
        .get(`/societies/${societyA}/consumption`)
        .query({ ...period, limit: 2, cursor: first.body.nextCursor })
        .expect(200);
      expect(second.body).toMatchObject({
        nextCursor: null,
        items: [{ meterId: 'AAAA0003', flags: ['no_readings'] }],
      });
      const csv = await api
        .get(`/societies/${societyA}/consumption`)
        .query({ ...period, limit: 2, format: 'csv' })
        .expect(200);
      expect(csv.headers['x-next-cursor']).toBe('AAAA0002');
      expect(csv.text.split('\r\n')).toHaveLength(4);
    });
  });

  it('documents every readings endpoint in the OpenAPI document', () => {
    const paths = harness.openApi.paths;
    for (const path of [
      '/api/v1/meters/{id}/readings',
      '/api/v1/meters/{id}/latest',
      '/api/v1/meters/{id}/aggregates',
      '/api/v1/meters/{id}/consumption',
      '/api/v1/societies/{id}/consumption',
      '/api/v1/meter-groups/{id}/consumption',
    ]) {
      expect(paths[path]?.get?.responses).toHaveProperty('200');
    }
    expect(paths['/api/v1/societies/{id}/consumption'].get?.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'format', in: 'query' })]),
    );
  });

  describe('tenant isolation', () => {
    it("answers 404 for another tenant's meter, society and their readings exactly like for missing ones", async () => {
      const api = as(adminA);
      const period = 'from=2026-11-01&to=2026-11-02';
      for (const path of ['readings', 'latest', 'aggregates?interval=1h', `consumption?${period}`]) {
        const theirs = await api.get(`/meters/BBBB0001/${path}`).expect(404);
        const missing = await api.get(`/meters/0000FFFF/${path}`).expect(404);
        expect(theirs.body).toEqual(missing.body);
        expect(theirs.body.error.message).toBe('meter not found');
      }
      const theirs = await api.get(`/societies/${societyB}/consumption?${period}`).expect(404);
      const missing = await api
        .get(`/societies/00000000-0000-4000-8000-000000000000/consumption?${period}`)
        .expect(404);
      expect(theirs.body).toEqual(missing.body);
      await api.get(`/meter-groups/99/consumption?${period}`).expect(404);
      const group = await api.get(`/meter-groups/2/consumption?${period}`).expect(200);
      expect(group.body.items.map((i: { meterId: string }) => i.meterId)).toEqual(['AAAA0002', 'AAAA0003']);
    });

    it('follows a meter moved to another society as soon as the move commits, never showing it to both', async () => {
      // The tenancy memo is on (the app started its listener), so this is not answered from the database alone.
      const tenancy = harness.app.get(MeterTenancyCache);
      expect(tenancy.listening).toBe(true);
      await createUser(harness.pool, 'viewer-b@example.org', [{ societyId: societyB, role: 'viewer' }]);
      const viewerB = as((await login(harness, 'viewer-b@example.org')).accessToken);
      const api = as(adminA);
      // Both tenants ask, so the meter's society is remembered when it moves.
      await api.get('/meters/AAAA0003/latest').expect(200);
      await viewerB.get('/meters/AAAA0003/latest').expect(404);
      const remembered = tenancy.size;
      await harness.pool.query(`UPDATE meters SET society_id = $1 WHERE meter_id = 'AAAA0003'`, [societyB]);
      try {
        // The notification PostgreSQL sent at commit reaches the API within a few I/O turns; no time-to-live.
        for (let turn = 0; turn < 20 && tenancy.size >= remembered; turn++)
          await harness.pool.query('SELECT 1');
        await api.get('/meters/AAAA0003/latest').expect(404);
        await api.get('/meters/AAAA0003/readings').expect(404);
        await viewerB.get('/meters/AAAA0003/latest').expect(200);
      } finally {
        await harness.pool.query(`UPDATE meters SET society_id = $1 WHERE meter_id = 'AAAA0003'`, [societyA]);
      }
    });

    it('requires authentication', async () => {
      await harness.http().get('/api/v1/meters/AAAA0001/latest').expect(401);
      await harness
        .http()
        .get(`/api/v1/societies/${societyA}/consumption?from=2026-11-01&to=2026-11-02`)
        .expect(401);
    });
  });
});
