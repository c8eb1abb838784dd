/**
 * The decryptor end to end against the local stack: envelopes produced to the shared Kafka broker (unique
 * topics and group), a throw-away PostgreSQL database, Redis under a unique prefix, and the real piscina pool
 * (worker compiled from TypeScript by its development entry).
 */
import type { Pool } from 'pg';
import { StorageMaintenance } from '@hes/storage';
import { INFO, kamstrupTelegram, meterKey } from '../test/telegrams';
import {
  MeterTestBed,
  RunningDecryptor,
  TestEnvironment,
  TopicCollector,
  createMeterTestBed,
  envelope,
  produceEnvelopes,
  startDecryptor,
  waitUntil,
} from '../test/harness';
import { createDecryptorHttpServer, closeServer, listen } from './http-server';

jest.setTimeout(180_000);

const T0 = Date.UTC(2026, 10, 20, 8, 0, 0);
const KEY_A = meterKey(1);
const KEY_B = meterKey(2);
const KEY_C = meterKey(3);

describe('decryptor against Kafka, PostgreSQL and Redis', () => {
  let bed: MeterTestBed;
  let environment: TestEnvironment;
  let db: Pool;
  let running: RunningDecryptor | undefined;
  let collector: TopicCollector | undefined;

  const count = async (sql: string, params: unknown[] = []) =>
    (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${sql}) q`, params)).rows[0].n;

  beforeAll(async () => {
    bed = await createMeterTestBed([
      { meterId: '11111111', key: KEY_A },
      { meterId: '22222222', key: KEY_B },
      { meterId: '33333333', key: KEY_C },
      // Registered without a key: its encrypted telegrams cannot be read.
      { meterId: '44444444' },
    ]);
    ({ environment, db } = bed);
  });

  afterEach(async () => {
    await collector?.stop();
    await running?.stop();
    collector = undefined;
    running = undefined;
  });

  afterAll(async () => {
    await bed.close();
  });

  it('stores readings once, learns compact formats, raises transition events, caches, publishes and dead-letters', async () => {
    running = await startDecryptor(environment);
    collector = new TopicCollector(environment);
    await collector.start();

    const aFull = kamstrupTelegram({
      meterId: '11111111',
      key: KEY_A,
      volumeM3: 10.001,
      records: 'custom',
      accessNumber: 1,
    });
    const aCompact = kamstrupTelegram({
      meterId: '11111111',
      key: KEY_A,
      volumeM3: 10.002,
      records: 'custom',
      compact: true,
      accessNumber: 2,
    });
    const aLeak = kamstrupTelegram({
      meterId: '11111111',
      key: KEY_A,
      volumeM3: 10.003,
      infoCode: INFO.leak,
      accessNumber: 3,
    });
    const aClear = kamstrupTelegram({ meterId: '11111111', key: KEY_A, volumeM3: 10.004, accessNumber: 4 });
    const bFull = kamstrupTelegram({ meterId: '22222222', key: KEY_B, volumeM3: 5.5, accessNumber: 9 });
    const wrongKey = kamstrupTelegram({ meterId: '33333333', key: KEY_A, volumeM3: 1, accessNumber: 1 });
    const unknownMeter = kamstrupTelegram({ meterId: '99999999', volumeM3: 1 });
    const noKey = kamstrupTelegram({ meterId: '44444444', key: KEY_A, volumeM3: 1 });
    const malformed = Buffer.from('0102030405', 'hex');

    await produceEnvelopes(environment, [
      envelope('11111111', aFull, T0),
      // The same telegram heard by a second gateway half a second later: stored once.
      envelope('11111111', aFull, T0 + 500, { sourceId: 'gw-2' }),
      envelope('11111111', aCompact, T0 + 16_000),
      envelope('11111111', aLeak, T0 + 32_000),
      envelope('11111111', aClear, T0 + 48_000),
      envelope('22222222', bFull, T0 + 1_000, { meterGroup: 'tower-b' }),
      envelope('33333333', wrongKey, T0 + 2_000, { meterGroup: 'tower-b' }),
      envelope('99999999', unknownMeter, T0 + 3_000, { sourceId: 'gw-9', signal: -81 }),
      envelope('44444444', noKey, T0 + 4_000),
      envelope('55555555', malformed, T0 + 5_000),
    ]);

    await waitUntil('dead letters', () => collector!.deadLetters.length >= 4);
    await waitUntil(
      'readings of 5 telegrams',
      async () => (await count('SELECT DISTINCT meter_id, ts FROM readings')) >= 5,
    );
    await waitUntil('events on the topic', () => collector!.events.length >= 4);

    // Readings: 4 telegrams of A (the duplicate dropped), 1 of B, each with all its numeric values.
    const perTelegram = await db.query<{ meter_id: string; ts: Date; n: number; volume: number }>(
      `SELECT meter_id, ts, count(*)::int AS n, max(value) FILTER (WHERE quantity = 'total_m3') AS volume
       FROM readings GROUP BY meter_id, ts ORDER BY meter_id, ts`,
    );
    // The custom record set carries 3 numeric values (total, target, temperature), the MULTICAL 21 set 4.
    expect(perTelegram.rows.map((r) => [r.meter_id, r.ts.getTime(), r.volume, r.n])).toEqual([
      ['11111111', T0, 10.001, 3],
      ['11111111', T0 + 16_000, 10.002, 3],
      ['11111111', T0 + 32_000, 10.003, 4],
      ['11111111', T0 + 48_000, 10.004, 4],
      ['22222222', T0 + 1_000, 5.5, 4],
    ]);
    expect(await count(`SELECT 1 FROM readings WHERE source <> 'gateway'`)).toBe(0);

    // The compact format learned from A's full frame is persisted for every decryptor.
    const formats = await db.query<{ format: Buffer }>(`SELECT format FROM compact_formats`);
    expect(formats.rows.map((r) => r.format.toString('hex').toUpperCase())).toEqual(['02FF2004134413615B']);

    // Events on transitions only: first sightings, the leak raised then cleared.
    const events = await db.query<{ meter_id: string; kind: string; ts: Date; state: string | null }>(
      `SELECT meter_id, kind, ts, details->>'state' AS state FROM events ORDER BY meter_id, ts, kind`,
    );
    expect(events.rows.map((e) => [e.meter_id, e.kind, e.ts.getTime(), e.state])).toEqual([
      ['11111111', 'first_seen', T0, null],
      ['11111111', 'leak', T0 + 32_000, 'raised'],
      ['11111111', 'leak', T0 + 48_000, 'cleared'],
      ['22222222', 'first_seen', T0 + 1_000, null],
    ]);
    expect(collector.events.map((e) => `${e.meterId}:${e.kind}`).sort()).toEqual([
      '11111111:first_seen',
      '11111111:leak',
      '11111111:leak',
      '22222222:first_seen',
    ]);

    // Dead letters carry the reason and the original envelope; good data next to them was stored.
    const reasons = Object.fromEntries(collector.deadLetters.map((d) => [d.meterId ?? 'none', d.reasonCode]));
    expect(reasons).toEqual({
      '33333333': 'wrong_key_or_corrupt',
      '99999999': 'unknown_meter',
      '44444444': 'no_key',
      '55555555': 'malformed',
    });
    const unknown = await db.query<{ meter_id: string; last_gateway_id: string; last_rssi_dbm: number }>(
      'SELECT meter_id, last_gateway_id, last_rssi_dbm FROM unknown_meters',
    );
    expect(unknown.rows).toEqual([{ meter_id: '99999999', last_gateway_id: 'gw-9', last_rssi_dbm: -81 }]);
    for (const letter of collector.deadLetters) {
      expect(letter.origin?.topic).toBe(environment.config.kafka.topics.rawTelegrams.name);
      expect(Buffer.from(letter.original, 'base64')[0]).toBe(1);
    }

    // Readings topic: one message per stored telegram, keyed to its group.
    await waitUntil('readings messages', () => collector!.readings.length >= 5);
    expect(collector.readings.filter((r) => r.meterId === '11111111').map((r) => r.ts)).toEqual([
      T0,
      T0 + 16_000,
      T0 + 32_000,
      T0 + 48_000,
    ]);

    // Redis: the latest value per meter and quantity.
    const latest = await running.cache.getLatest('11111111');
    expect(latest.total_m3).toMatchObject({ value: 10.004, ts: T0 + 48_000 });

    // Nothing was logged with key material: the keys are not in any message the test saw either.
    const everything = JSON.stringify([collector.readings, collector.events, collector.deadLetters]);
    for (const key of [KEY_A, KEY_B, KEY_C]) {
      expect(everything).not.toContain(key.toString('hex'));
      expect(everything).not.toContain(key.toString('base64'));
    }

    // Metrics and health over HTTP.
    const server = createDecryptorHttpServer(running.metrics, () => running!.decryptor.health());
    const port = await listen(server, 0, '127.0.0.1');
    try {
      const base = `http://127.0.0.1:${port}`;
      const metricsText = await (await fetch(`${base}/metrics`)).text();
      expect(metricsText).toMatch(/hes_telegrams_decoded_total\{app="decryptor"\} [5-9]/);
      expect(metricsText).toContain('hes_telegrams_failed_total{reason="unknown_meter",app="decryptor"} 1');
      expect(metricsText).toContain(
        'hes_telegram_duplicates_dropped_total{source="gateway",app="decryptor"} 1',
      );
      expect(metricsText).toMatch(
        /hes_processing_latency_seconds_count\{[^}]*stage="decoded_to_stored"[^}]*\} [1-9]/,
      );
      await waitUntil('lag gauge at zero', async () =>
        /hes_kafka_consumer_lag_messages\{[^}]*partition="0"[^}]*\} 0/.test(
          await (await fetch(`${base}/metrics`)).text(),
        ),
      );
      const health = await fetch(`${base}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({
        status: 'ok',
        checks: { database: { status: 'up' }, kafka: { status: 'up' }, redis: { status: 'up' } },
      });
    } finally {
      await closeServer(server);
    }
  });

  it('replays the whole topic in a new consumer group and stores nothing twice', async () => {
    const before = {
      readings: await count('SELECT 1 FROM readings'),
      events: await count('SELECT 1 FROM events'),
      rollup: (
        await db.query<{ n: number }>('SELECT coalesce(sum(reading_count), 0)::int AS n FROM readings_30m')
      ).rows[0].n,
    };
    expect(before.readings).toBeGreaterThan(0);
    // A fresh group starts from the beginning with no dedup memory: every telegram is decoded and written again.
    running = await startDecryptor(environment, { groupId: `${environment.settings.groupId}_replay` });
    collector = new TopicCollector(environment);
    await collector.start();
    await waitUntil('the replay to be committed', async () => {
      const text = await running!.metrics.scrape();
      return (
        /hes_telegrams_failed_total\{reason="malformed",app="decryptor"\} 1/.test(text) &&
        /hes_telegrams_decoded_total\{app="decryptor"\} 5/.test(text)
      );
    });
    const text = await running.metrics.scrape();
    expect(text).toContain('hes_readings_stored_total{app="decryptor"} 0');
    expect(await count('SELECT 1 FROM readings')).toBe(before.readings);
    expect(await count('SELECT 1 FROM events')).toBe(before.events);
    expect(
      (await db.query<{ n: number }>('SELECT coalesce(sum(reading_count), 0)::int AS n FROM readings_30m'))
        .rows[0].n,
    ).toBe(before.rollup);
  });

  it('stores a back-dated handheld upload, folds it into its 30-minute rollup and raises no stale alarm', async () => {
    running = await startDecryptor(environment);
    const weekAgo = Date.UTC(2026, 10, 13, 7, 5, 0);
    const upload = [0, 1].map((i) =>
      envelope(
        '22222222',
        kamstrupTelegram({
          meterId: '22222222',
          key: KEY_B,
          volumeM3: 4.25 + i / 100,
          infoCode: i === 1 ? INFO.leak : INFO.ok,
          accessNumber: 100 + i,
        }),
        weekAgo + i * 300_000,
        { sourceKind: 'handheld', sourceId: 'walker-7', uploadId: 'upload-1', meterGroup: 'tower-b' },
      ),
    );
    // The meter's present: a gateway reading at T0 + 1 s (already stored if the first test ran: a no-op then).
    const present = envelope(
      '22222222',
      kamstrupTelegram({ meterId: '22222222', key: KEY_B, volumeM3: 5.5, accessNumber: 9 }),
      T0 + 1_000,
      { meterGroup: 'tower-b' },
    );
    await produceEnvelopes(environment, [present, ...upload]);
    await waitUntil(
      'the back-dated readings',
      async () =>
        (await count(`SELECT 1 FROM readings WHERE meter_id = '22222222' AND ts < $1`, [new Date(T0)])) === 8,
    );
    const rollup = await db.query<{
      bucket: Date;
      reading_count: number;
      first_value: number;
      last_value: number;
    }>(
      `SELECT bucket, reading_count::int AS reading_count, first_value, last_value FROM readings_30m
       WHERE meter_id = '22222222' AND quantity = 'total_m3' AND bucket < $1`,
      [new Date(T0)],
    );
    expect(rollup.rows).toEqual([
      {
        bucket: new Date(Date.UTC(2026, 10, 13, 7, 0, 0)),
        reading_count: 2,
        first_value: 4.25,
        last_value: 4.26,
      },
    ]);
    expect(await count(`SELECT 1 FROM readings WHERE ts < $1 AND source = 'handheld'`, [new Date(T0)])).toBe(
      8,
    );
    // The meter's present state is newer than the upload: last week's leak flag is history, not an alarm.
    expect(await count(`SELECT 1 FROM events WHERE meter_id = '22222222' AND kind = 'leak'`)).toBe(0);
    // Housekeeping runs from one decryptor per database: partitions ahead exist after it.
    const report = await running.decryptor.maintainStorage(new StorageMaintenance(db));
    expect(report).toMatchObject({ dialect: 'postgres', partitionsDropped: [] });
    // The cache's latest value stays the newer gateway reading.
    expect((await running.cache.getLatest('22222222')).total_m3).toMatchObject({ value: 5.5 });
  });
});
