/**
 * The decryptor keeps meter_status: the last sighting of every meter whose telegrams it decoded and stored (time,
 * signal, source, gateway, status flags), coalesced in memory and written once more when it stops. Real Kafka
 * broker, PostgreSQL and worker pool, as in decryptor.int.spec.ts.
 */
import type { Pool } from 'pg';
import { INFO, kamstrupTelegram, meterKey } from '../test/telegrams';
import {
  MeterTestBed,
  TestEnvironment,
  createMeterTestBed,
  envelope,
  produceEnvelopes,
  startDecryptor,
  waitUntil,
} from '../test/harness';

jest.setTimeout(120_000);

const T0 = Date.UTC(2026, 10, 21, 6, 0, 0);
const KEY_A = meterKey(11);
const KEY_B = meterKey(12);

describe('meter status from the decryptor', () => {
  let bed: MeterTestBed;
  let environment: TestEnvironment;
  let db: Pool;

  beforeAll(async () => {
    bed = await createMeterTestBed([
      { meterId: 'A1000001', key: KEY_A },
      { meterId: 'B1000001', key: KEY_B },
    ]);
    ({ environment, db } = bed);
  });

  afterAll(async () => {
    await bed.close();
  });

  it('records the newest stored sighting per meter, with signal, source, gateway and status flags', async () => {
    const running = await startDecryptor(environment);
    try {
      const telegram = (meterId: string, key: Buffer, accessNumber: number, infoCode: number = INFO.ok) =>
        kamstrupTelegram({ meterId, key, volumeM3: 1 + accessNumber / 1000, accessNumber, infoCode });
      await produceEnvelopes(environment, [
        envelope('A1000001', telegram('A1000001', KEY_A, 1), T0, { sourceId: 'gw-1', signal: -90 }),
        envelope('A1000001', telegram('A1000001', KEY_A, 2, INFO.leak), T0 + 16_000, {
          sourceId: 'gw-2',
          signal: -65,
        }),
        // Heard late (an older telegram delivered after the newer one): it must not win.
        envelope('A1000001', telegram('A1000001', KEY_A, 3), T0 - 16_000, { sourceId: 'gw-3', signal: -50 }),
        envelope('B1000001', telegram('B1000001', KEY_B, 1), T0 + 1_000, {
          sourceKind: 'handheld',
          sourceId: 'hh-7',
        }),
        // Not registered: it goes to unknown_meters, not meter_status.
        envelope('99999999', kamstrupTelegram({ meterId: '99999999', volumeM3: 1 }), T0 + 2_000),
      ]);
      await waitUntil(
        'readings of 4 telegrams',
        async () =>
          (await db.query<{ n: number }>('SELECT count(DISTINCT (meter_id, ts))::int AS n FROM readings'))
            .rows[0].n >= 4,
      );
    } finally {
      await running.stop();
    }

    const status = await db.query(
      `SELECT meter_id, last_seen_at, last_rssi_dbm, last_source, last_gateway_id, status_flags
       FROM meter_status ORDER BY meter_id`,
    );
    expect(status.rows).toEqual([
      {
        meter_id: 'A1000001',
        last_seen_at: new Date(T0 + 16_000),
        last_rssi_dbm: -65,
        last_source: 'gateway',
        last_gateway_id: 'gw-2',
        status_flags: ['LEAK'],
      },
      {
        meter_id: 'B1000001',
        last_seen_at: new Date(T0 + 1_000),
        last_rssi_dbm: null,
        last_source: 'handheld',
        last_gateway_id: 'hh-7',
        status_flags: [],
      },
    ]);
  });
});
