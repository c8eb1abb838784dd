import { TelegramProducer } from '@hes/messaging';
import { kamstrupTelegram, meterKey } from '../telegrams';
import { failureStackForSuite } from './pipeline';

/**
 * Poison mixed into a stream on one partition (every meter here is in the collector's default group):
 * through the collector, telegrams of unknown meters, telegrams encrypted with the wrong key and frames with
 * an unknown CI field (valid framing, so the collector accepts them); straight into the raw topic, envelopes
 * whose bytes are too short to be a frame (a producer other than the collector). Each lands in the dead-letter topic
 * with its reason, the good telegrams around them are stored, and the partition is drained (lag 0).
 */
jest.setTimeout(300_000);

const ROUNDS = 40;
const GOOD_METERS = Array.from({ length: 10 }, (_, i) => `5100${String(i).padStart(4, '0')}`);
const WRONG_KEY_METER = '52000001';
const MALFORMED_METER = '52000002';
const keyOf = (meterId: string) => meterKey(parseInt(meterId.slice(-4), 10) + 1);

/** A registered meter's data-link header followed by CI 0x55, which no wM-Bus layer defines. */
function unknownCiFrame(round: number): Buffer {
  const good = kamstrupTelegram({ meterId: MALFORMED_METER, volumeM3: 1 });
  const frame = Buffer.concat([good.subarray(0, 10), Buffer.from([0x55, round])]);
  frame[0] = frame.length - 1;
  return frame;
}

describe('failure: poison input mixed into a stream', () => {
  const stack = failureStackForSuite();

  it('dead-letters each poison telegram with its reason and stores the good ones next to it', async () => {
    await stack().registerMeters([
      ...GOOD_METERS.map((meterId) => ({ meterId, key: keyOf(meterId) })),
      { meterId: WRONG_KEY_METER, key: meterKey(200) },
      { meterId: MALFORMED_METER, key: meterKey(201) },
    ]);
    const apiKey = await stack().createGateway('poison-gw');
    await stack().startDecryptor();

    const t0 = Date.now() - 3_600_000;
    const statuses: Record<string, number> = {};
    for (let round = 0; round < ROUNDS; round++) {
      const receivedAt = new Date(t0 + round * 16_000).toISOString();
      const good = GOOD_METERS.map((meterId, i) =>
        kamstrupTelegram({
          meterId,
          key: keyOf(meterId),
          volumeM3: 10 + i + round / 1000,
          accessNumber: round,
        }),
      );
      const poison = [
        kamstrupTelegram({ meterId: WRONG_KEY_METER, key: meterKey(77), volumeM3: 1, accessNumber: round }),
        kamstrupTelegram({ meterId: `53${String(round).padStart(6, '0')}`, key: meterKey(5), volumeM3: 1 }),
        unknownCiFrame(round),
      ];
      // Poison first, in the middle and last, between good telegrams of the same request and partition.
      const telegrams = [poison[0], ...good.slice(0, 5), poison[1], ...good.slice(5), poison[2]];
      const response = await fetch(`${stack().collectorUrl}/api/v1/gateways/telegrams`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(telegrams.map((t) => ({ telegram: t.toString('hex'), receivedAt }))),
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { results: Array<{ status: string }> };
      for (const result of body.results) statuses[result.status] = (statuses[result.status] ?? 0) + 1;
    }
    expect(statuses).toEqual({ accepted: ROUNDS * 13 });

    const producer = new TelegramProducer(stack().kafka, { topic: stack().topics.rawTelegrams.name });
    await producer.connect();
    try {
      await producer.send(
        Array.from({ length: 20 }, (_, i) => ({
          sourceKind: 'gateway' as const,
          sourceId: 'rogue-producer',
          receivedAt: t0 + i,
          telegram: Buffer.from([0xff, 0x00, i]),
          meterId: MALFORMED_METER,
          manufacturer: 'KAM',
          meterGroup: 'default',
        })),
      );
    } finally {
      await producer.disconnect();
    }

    const goodTelegrams = ROUNDS * GOOD_METERS.length;
    // 4 values per MULTICAL 21 telegram (volume, target volume, two temperatures).
    const stored = await stack().waitForExactlyStored({ telegrams: goodTelegrams, rows: goodTelegrams * 4 });
    expect(stored).toEqual({
      rows: goodTelegrams * 4,
      telegrams: goodTelegrams,
      duplicateKeys: 0,
      rollupCount: goodTelegrams * 4,
    });
    const perMeter = await stack().db.query<{ meter_id: string; n: number }>(
      `SELECT meter_id, count(DISTINCT ts)::int AS n FROM readings GROUP BY meter_id ORDER BY meter_id`,
    );
    expect(perMeter.rows).toEqual(GOOD_METERS.map((meter_id) => ({ meter_id, n: ROUNDS })));

    const letters = await stack().deadLetters(ROUNDS * 3 + 20);
    const byReason: Record<string, Set<string>> = {};
    for (const letter of letters) (byReason[letter.reasonCode] ??= new Set()).add(letter.original);
    expect(
      Object.fromEntries(Object.entries(byReason).map(([reason, originals]) => [reason, originals.size])),
    ).toEqual({
      wrong_key_or_corrupt: ROUNDS,
      unknown_meter: ROUNDS,
      malformed: ROUNDS,
      // Three bytes are shorter than any frame: the decoder's TOO_SHORT, filed as corruption on air.
      corrupt: 20,
    });
    expect(
      letters
        .filter((l) => l.reasonCode === 'wrong_key_or_corrupt')
        .every((l) => l.meterId === WRONG_KEY_METER),
    ).toBe(true);
    const unknown = await stack().db.query<{ n: number }>(`SELECT count(*)::int AS n FROM unknown_meters`);
    expect(unknown.rows[0].n).toBe(ROUNDS);
    expect(await stack().consumerLag()).toBe(0);
    expect(stack().decryptor?.alive).toBe(true);
  });
});
