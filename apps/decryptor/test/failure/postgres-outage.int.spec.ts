import { failureStackForSuite } from './pipeline';
import { sleep } from './services';

/**
 * The private PostgreSQL stopped (pg_ctl stop -m fast) for 30 s while a load runs: the decryptor keeps
 * running (no crash loop), commits nothing it could not store, and catches up by itself when the server is
 * back; every accepted telegram is stored exactly once.
 */
jest.setTimeout(480_000);

describe('failure: PostgreSQL down for 30 s during a load', () => {
  const stack = failureStackForSuite();

  it('resumes on its own, loses nothing and stores nothing twice', async () => {
    const decryptor = await stack().startDecryptor();
    // ~32 s of load at 250 telegrams/s: it spans the outage.
    const load = stack().simulate({ meters: 200, count: 8_000, rate: 250, seed: 4102, duplicates: 0.05 });

    await stack().waitForStoredTelegrams('the first readings stored', 500);
    await stack().postgres.stop('fast');
    const stoppedAt = Date.now();
    await sleep(10_000);
    const health = await stack().decryptorHealth();
    expect(health.httpStatus).toBe(503);
    expect(health.body.status).toBe('unavailable');
    // The telegrams sent meanwhile wait in Kafka, uncommitted.
    expect(await stack().consumerLag()).toBeGreaterThan(0);
    await sleep(30_000 - (Date.now() - stoppedAt));
    await stack().postgres.start();

    const summary = await load;
    const stored = await stack().waitForExactlyStored(
      { telegrams: summary.uniqueAccepted, rows: summary.expectedReadings },
      180_000,
    );
    expect(stored).toEqual({
      rows: summary.expectedReadings,
      telegrams: summary.uniqueAccepted,
      duplicateKeys: 0,
      rollupCount: summary.expectedReadings,
    });
    expect(summary.uniqueAccepted).toBe(8_000);
    // The same process throughout: no exit, no restart.
    expect(decryptor.alive).toBe(true);
    expect(stack().decryptor).toBe(decryptor);
    await stack().waitForDecryptorHealth(
      'the decryptor to report healthy',
      (health) => health.httpStatus === 200,
    );
  });
});
