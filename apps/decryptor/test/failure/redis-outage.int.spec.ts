import { ReadingCache, quantityKey } from '@hes/cache';
import { failureStackForSuite } from './pipeline';
import { waitFor } from './services';

/**
 * The private redis-server stopped during a load: readings are still stored (exact counts), and once Redis is
 * back the latest value of every meter and quantity in Redis equals the newest reading in PostgreSQL.
 */
jest.setTimeout(420_000);

interface LatestRow {
  meter_id: string;
  quantity: string;
  storage: number;
  tariff: number;
  value: number;
  ts: Date;
}

describe('failure: Redis down during a load', () => {
  const stack = failureStackForSuite();

  it('stores every reading while Redis is down and the cache catches up when it returns', async () => {
    await stack().startDecryptor();
    const load = stack().simulate({ meters: 150, count: 6_000, rate: 600, seed: 4103 });
    await stack().waitForStoredTelegrams('the first readings stored', 1_000);
    await stack().redis.stop();

    const summary = await load;
    const stored = await stack().waitForExactlyStored({
      telegrams: summary.uniqueAccepted,
      rows: summary.expectedReadings,
    });
    expect(stored).toEqual({
      rows: summary.expectedReadings,
      telegrams: summary.uniqueAccepted,
      duplicateKeys: 0,
      rollupCount: summary.expectedReadings,
    });
    const degraded = await stack().decryptorHealth();
    expect(degraded).toEqual({ httpStatus: 200, body: expect.objectContaining({ status: 'degraded' }) });

    await stack().redis.start();
    const { rows: latest } = await stack().db.query<LatestRow>(
      `SELECT DISTINCT ON (meter_id, quantity, storage, tariff) meter_id, quantity, storage, tariff, value, ts
       FROM readings ORDER BY meter_id, quantity, storage, tariff, ts DESC`,
    );
    expect(new Set(latest.map((row) => row.meter_id)).size).toBe(150);
    const cache = new ReadingCache({ url: stack().redis.url });
    await cache.connect();
    try {
      let mismatches: string[] = [];
      await waitFor(
        'Redis latest values equal to the newest readings in PostgreSQL',
        async () => {
          mismatches = [];
          for (const row of latest) {
            const cached = (await cache.getLatest(row.meter_id))[quantityKey(row)];
            if (cached?.ts !== row.ts.getTime() || cached.value !== row.value) {
              mismatches.push(
                `${row.meter_id}/${quantityKey(row)}: db ${row.value}@${row.ts.getTime()} cache ${JSON.stringify(cached)}`,
              );
            }
          }
          return mismatches.length === 0;
        },
        {
          timeoutMs: 60_000,
          intervalMs: 1_000,
          context: () => `\n${mismatches.slice(0, 10).join('\n')}${stack().logs()}`,
        },
      );
    } finally {
      await cache.close();
    }
    await stack().waitForDecryptorHealth(
      'the decryptor to report ok',
      (health) => health.body.status === 'ok',
    );
  });
});
