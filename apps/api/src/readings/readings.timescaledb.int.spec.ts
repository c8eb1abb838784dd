/**
 * The readings queries on the TimescaleDB dialect (the PGlite TimescaleDB build over the wire), where
 * readings_30m is a real-time continuous aggregate: the same consumption, aggregates and pages as on plain
 * PostgreSQL, before and after the aggregate is materialised, and a meter's history floor applied to each.
 */
import { ReadingWriter, runMigrations } from '@hes/storage';
import {
  startPgliteTimescale,
  type PgliteTimescaleServer,
} from '../../../../libs/storage/test/pglite-server';
import { registerReading } from '../../../../libs/storage/test/readings-fixture';
import { ConsumptionCalculator } from './consumption';
import { ReadingsRepository } from './readings.repository';
import { SeriesHealthRepository } from './series-health.repository';

jest.setTimeout(120_000);

const register = (ts: string, value: number, quantity?: string, storage?: number) =>
  registerReading('AAAA0002', ts, value, quantity, storage);

const FLOOR = new Date('2026-11-01T01:20:00Z');

const READINGS = [
  register('2026-10-31T23:50:00Z', 100),
  register('2026-11-01T00:10:00Z', 100.5),
  register('2026-11-01T01:10:00Z', 101),
  register('2026-11-01T01:25:00Z', 101.2),
  register('2026-11-02T08:10:00Z', 110),
  register('2026-11-02T09:10:00Z', 111),
  register('2026-11-02T10:10:00Z', 2),
  register('2026-11-02T11:10:00Z', 3),
  register('2026-11-02T00:10:00Z', 99, 'target_m3', 1),
];

describe('readings queries on TimescaleDB', () => {
  let server: PgliteTimescaleServer;
  let repository: ReadingsRepository;
  let consumption: ConsumptionCalculator;
  const period = (from: string, to: string) => ({
    fromMs: Date.parse(from),
    toMs: Date.parse(to),
    quantity: 'total_m3',
    gapHours: 24,
    nowMs: Date.parse('2026-11-24T00:00:00Z'),
  });

  beforeAll(async () => {
    server = await startPgliteTimescale();
    await runMigrations(server.pool, { dialect: 'timescaledb', rawRetentionDays: 3650 });
    await new ReadingWriter(server.pool).write([
      ...READINGS,
      ...READINGS.map((reading) => ({ ...reading, meterId: 'AAAA0003' })),
    ]);
    // AAAA0003 has the same readings and a history floor inside the bucket of 01:10 and 01:25 (set directly:
    // the insert trigger derives it from departures, and this meter id has none).
    await server.pool.query(
      `INSERT INTO meters (meter_id, manufacturer, device_type, version) VALUES ('AAAA0003', 'KAM', 7, 27)`,
    );
    await server.pool.query(`UPDATE meters SET history_from = $1 WHERE meter_id = 'AAAA0003'`, [FLOOR]);
    repository = new ReadingsRepository(server.pool);
    consumption = new ConsumptionCalculator(repository, new SeriesHealthRepository(server.pool));
  });

  afterAll(async () => {
    await server?.stop();
  });

  async function expectSameAnswers(): Promise<void> {
    const [whole] = await consumption.ofMeters(
      ['AAAA0002'],
      period('2026-11-01T00:00:00Z', '2026-11-02T12:00:00Z'),
    );
    expect(whole).toMatchObject({
      start: { ts: '2026-10-31T23:50:00.000Z', value: 100, afterBoundary: false },
      end: { ts: '2026-11-02T11:10:00.000Z', value: 3, afterBoundary: false },
      delta: -97,
      gapCount: 1,
      longestGapHours: 30.75,
      decreases: 1,
      target: { value: 99, ts: '2026-11-02T00:10:00.000Z' },
      flags: ['gap', 'reset'],
    });
    const [inside] = await consumption.ofMeters(
      ['AAAA0002'],
      period('2026-11-01T01:20:00Z', '2026-11-02T09:30:00Z'),
    );
    expect(inside).toMatchObject({
      start: { ts: '2026-11-01T01:10:00.000Z', value: 101 },
      end: { ts: '2026-11-02T09:10:00.000Z', value: 111 },
      delta: 10,
    });
    const hours = await repository.aggregates(
      'AAAA0002',
      '1h',
      Date.parse('2026-11-01T00:00:00Z'),
      Date.parse('2026-11-01T02:00:00Z'),
      ['total_m3'],
      'UTC',
      null,
    );
    expect(hours.map((h) => [new Date(h.startMs).toISOString(), h.first, h.last, h.count, h.sum])).toEqual([
      ['2026-11-01T00:00:00.000Z', 100.5, 100.5, 1, 100.5],
      ['2026-11-01T01:00:00.000Z', 101, 101.2, 2, 202.2],
    ]);
    const page = await repository.rawPage(
      'AAAA0002',
      Date.parse('2026-11-02T00:00:00Z'),
      Date.parse('2026-11-03T00:00:00Z'),
      undefined,
      undefined,
      3,
      null,
    );
    expect(page.map((r) => `${new Date(r.tsUs / 1000).toISOString()} ${r.quantity}`)).toEqual([
      '2026-11-02T00:10:00.000Z target_m3',
      '2026-11-02T08:10:00.000Z total_m3',
      '2026-11-02T09:10:00.000Z total_m3',
    ]);
  }

  /** AAAA0003: raw readings from the floor exactly, rollups only those wholly after it. */
  async function expectHistoryFromFloor(): Promise<void> {
    const [whole] = await consumption.ofMeters(
      ['AAAA0003'],
      period('2026-11-01T00:00:00Z', '2026-11-02T12:00:00Z'),
    );
    expect(whole).toMatchObject({
      start: { ts: '2026-11-02T08:10:00.000Z', value: 110, afterBoundary: true },
      end: { ts: '2026-11-02T11:10:00.000Z', value: 3, afterBoundary: false },
      delta: -107,
      decreases: 1,
      target: { value: 99, ts: '2026-11-02T00:10:00.000Z' },
      flags: ['start_after_period_start', 'gap', 'reset'],
    });
    const hours = await repository.aggregates(
      'AAAA0003',
      '1h',
      Date.parse('2026-11-01T00:00:00Z'),
      Date.parse('2026-11-02T10:00:00Z'),
      ['total_m3'],
      'UTC',
      FLOOR,
    );
    expect(hours.map((h) => new Date(h.startMs).toISOString())).toEqual([
      '2026-11-02T08:00:00.000Z',
      '2026-11-02T09:00:00.000Z',
    ]);
    const page = await repository.rawPage(
      'AAAA0003',
      Date.parse('2026-11-01T00:00:00Z'),
      Date.parse('2026-11-02T00:00:00Z'),
      undefined,
      undefined,
      10,
      FLOOR,
    );
    expect(page.map((r) => `${new Date(r.tsUs / 1000).toISOString()} ${r.value}`)).toEqual([
      '2026-11-01T01:25:00.000Z 101.2',
    ]);
  }

  it('answers from the real-time part of the aggregate', async () => {
    await expectSameAnswers();
    await expectHistoryFromFloor();
  });

  it('answers the same once the aggregate is materialised', async () => {
    await server.pool.query(`CALL refresh_continuous_aggregate('readings_30m', NULL, NULL)`);
    await expectSameAnswers();
    await expectHistoryFromFloor();
  });
});
