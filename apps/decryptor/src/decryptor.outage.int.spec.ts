/**
 * Failure behaviour of the decryptor: PostgreSQL unreachable (through a proxy this test owns, so the shared
 * server keeps running) and Redis unreachable (a closed port). Both against the shared Kafka broker.
 */
import type { Admin } from 'kafkajs';
import type { Pool } from 'pg';
import { computeConsumerLag } from '@hes/messaging';
import { findFreePortRange } from '@hes/testing';
import { kamstrupTelegram, meterKey } from '../test/telegrams';
import {
  DatabaseOutageProxy,
  MeterTestBed,
  RunningDecryptor,
  TestEnvironment,
  countTelegramsStored,
  createMeterTestBed,
  envelope,
  produceEnvelopes,
  startDecryptor,
  waitUntil,
} from '../test/harness';

jest.setTimeout(180_000);

const T0 = Date.UTC(2026, 10, 21, 6, 0, 0);
const METERS = ['A0000001', 'A0000002', 'A0000003', 'A0000004', 'A0000005', 'A0000006'];
const keyOf = (meterId: string) => meterKey(parseInt(meterId, 16) & 0xff);

/** One telegram per meter per step, 16 s apart, with a slowly rising volume. */
function telegrams(fromStep: number, steps: number) {
  const out = [];
  for (let step = fromStep; step < fromStep + steps; step++) {
    for (const [i, meterId] of METERS.entries()) {
      const telegram = kamstrupTelegram({
        meterId,
        key: keyOf(meterId),
        volumeM3: 100 + i + step / 1000,
        accessNumber: step & 0xff,
      });
      out.push(envelope(meterId, telegram, T0 + step * 16_000, { meterGroup: `group-${i % 3}` }));
    }
  }
  return out;
}

describe('decryptor under outages', () => {
  let bed: MeterTestBed;
  let environment: TestEnvironment;
  let db: Pool;
  let running: RunningDecryptor | undefined;

  const telegramsStored = () => countTelegramsStored(db);
  const rawLag = async (admin: Admin) =>
    (
      await computeConsumerLag(admin, environment.settings.groupId, [
        environment.config.kafka.topics.rawTelegrams.name,
      ])
    ).total;
  const readingRows = async () =>
    (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM readings')).rows[0].n;

  beforeAll(async () => {
    bed = await createMeterTestBed(METERS.map((meterId) => ({ meterId, key: keyOf(meterId) })));
    ({ environment, db } = bed);
  });

  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  afterAll(async () => {
    await bed.close();
  });

  it('keeps its partitions while PostgreSQL is down, commits nothing, and stores everything once it is back', async () => {
    const proxy = new DatabaseOutageProxy();
    await proxy.start();
    const admin = environment.kafka.admin();
    await admin.connect();
    try {
      running = await startDecryptor(environment, { databaseUrl: proxy.urlFor(environment.database.url) });
      await produceEnvelopes(environment, telegrams(0, 5));
      await waitUntil('the first 30 telegrams', async () => (await telegramsStored()) === 30);
      // Stored is not yet durable: the batch's events follow its readings, and only then is it committed.
      await waitUntil('the first 30 committed', async () => (await rawLag(admin)) === 0);
      const joinsBefore = running.joins();

      await proxy.stop();
      await produceEnvelopes(environment, telegrams(5, 10));
      // Longer than the session timeout (6 s): a member that stopped heartbeating would be evicted.
      await new Promise((resolve) => setTimeout(resolve, 9_000));
      expect(await telegramsStored()).toBe(30);
      expect(await rawLag(admin)).toBe(60);

      await proxy.start();
      await waitUntil('all 90 telegrams', async () => (await telegramsStored()) === 90);
      await waitUntil('everything committed', async () => (await rawLag(admin)) === 0);
      expect(running.joins()).toBe(joinsBefore);
      // 4 values per MULTICAL 21 telegram, each stored exactly once.
      expect(await readingRows()).toBe(90 * 4);
      const rollup = await db.query<{ n: number }>('SELECT sum(reading_count)::int AS n FROM readings_30m');
      expect(rollup.rows[0].n).toBe(90 * 4);
    } finally {
      await admin.disconnect();
      await proxy.stop();
    }
  });

  it('abandons an unstorable batch on shutdown and a restarted member stores it without duplicates', async () => {
    const proxy = new DatabaseOutageProxy();
    await proxy.start();
    const direct = proxy.urlFor(environment.database.url);
    running = await startDecryptor(environment, { databaseUrl: direct });
    await proxy.stop();
    const before = await telegramsStored();
    await produceEnvelopes(environment, telegrams(20, 3));
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    // Stops while its batches are retrying: they are left uncommitted for the next member.
    await running.stop();
    running = undefined;
    expect(await telegramsStored()).toBe(before);

    running = await startDecryptor(environment);
    await waitUntil('the abandoned telegrams', async () => (await telegramsStored()) === before + 18);
    expect(await readingRows()).toBe((before + 18) * 4);
    const admin = environment.kafka.admin();
    await admin.connect();
    try {
      await waitUntil('everything committed', async () => (await rawLag(admin)) === 0);
    } finally {
      await admin.disconnect();
    }
  });

  it('stores readings while Redis is unreachable and counts the cache misses', async () => {
    const closedPort = await findFreePortRange(1);
    running = await startDecryptor(environment, { redisUrl: `redis://127.0.0.1:${closedPort}` });
    const before = await telegramsStored();
    await produceEnvelopes(environment, telegrams(40, 2));
    await waitUntil('readings stored without Redis', async () => (await telegramsStored()) === before + 12);
    const text = await running.metrics.scrape();
    expect(text).toMatch(/hes_cache_misses_total\{[^}]*operation="write"[^}]*\} [1-9]/);
    expect(await running.decryptor.health()).toMatchObject({
      status: 'degraded',
      checks: { redis: { status: 'down' } },
    });
  });
});
