/**
 * Two decryptors in one consumer group on the shared Kafka broker: they split the partitions, every telegram
 * is stored once, and when one leaves the other takes its partitions over and continues from the commits.
 */
import type { Pool } from 'pg';
import { kamstrupTelegram, meterKey } from '../test/telegrams';
import {
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

const T0 = Date.UTC(2026, 10, 22, 6, 0, 0);
const METERS = Array.from({ length: 12 }, (_, i) => `D00000${(i + 16).toString(16).toUpperCase()}`);
const keyOf = (i: number) => meterKey(100 + i);

function telegrams(fromStep: number, steps: number) {
  const out = [];
  for (let step = fromStep; step < fromStep + steps; step++) {
    for (const [i, meterId] of METERS.entries()) {
      const telegram = kamstrupTelegram({
        meterId,
        key: keyOf(i),
        volumeM3: 7 + step / 1000,
        accessNumber: step,
      });
      out.push(envelope(meterId, telegram, T0 + step * 16_000, { meterGroup: `block-${i}` }));
    }
  }
  return out;
}

describe('decryptors sharing a consumer group', () => {
  let bed: MeterTestBed;
  let environment: TestEnvironment;
  let db: Pool;
  const members: RunningDecryptor[] = [];

  const telegramsStored = () => countTelegramsStored(db);

  beforeAll(async () => {
    bed = await createMeterTestBed(
      METERS.map((meterId, i) => ({ meterId, key: keyOf(i) })),
      { KAFKA_PARTITIONS: '4' },
    );
    ({ environment, db } = bed);
  });

  afterAll(async () => {
    for (const member of members) await member.stop();
    await bed.close();
  });

  it('splits the partitions, stores each telegram once, and survives a member leaving', async () => {
    for (let i = 0; i < 2; i++) members.push(await startDecryptor(environment));
    const partitionsOf = (member: RunningDecryptor) => member.decryptor.groupMembership.partitions;
    // Until the first member has rejoined, it still reports its solo assignment of all four partitions.
    const split = () =>
      members.every((m) => partitionsOf(m).length > 0) &&
      [...partitionsOf(members[0]), ...partitionsOf(members[1])].sort().join() === '0,1,2,3';
    await waitUntil('the two members to split the four partitions', split, 60_000);

    await produceEnvelopes(environment, telegrams(0, 5));
    await waitUntil('60 telegrams', async () => (await telegramsStored()) === 60);

    const leaving = members.shift()!;
    await leaving.stop();
    await waitUntil(
      'the remaining member to take all partitions',
      () => partitionsOf(members[0]).length === 4,
      60_000,
    );
    await produceEnvelopes(environment, telegrams(5, 5));
    await waitUntil('120 telegrams', async () => (await telegramsStored()) === 120);
    const rows = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM readings');
    expect(rows.rows[0].n).toBe(120 * 4);
    const firstSeen = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM events WHERE kind = 'first_seen'`,
    );
    expect(firstSeen.rows[0].n).toBe(METERS.length);
  });
});
