import { DuplicateScheduler, DUPLICATE_MAX_DELAY_MS, DUPLICATE_MIN_DELAY_MS } from './duplicates';
import { createFleet } from './fleet';
import { runSimulation } from './run';
import { SimulationTally } from './tally';
import { TokenBucket } from './token-bucket';
import { backoffMs, retryAfterMs, type SimGateway, type Transport } from './transport';
import { isoTime, itemJson, type WireItem } from './wire-item';

function item(sequence: number, gateway = 0): WireItem {
  return { sequence, readings: 4, hex: 'aa', receivedAt: 1_000_000, rssi: -80, gateway, duplicate: false };
}

describe('TokenBucket', () => {
  it('hands out tokens at the rate, never more than its capacity after a stall', () => {
    const bucket = new TokenBucket(1000, 500, 0);
    expect(bucket.take(10_000, 100)).toBe(100);
    expect(bucket.take(10_000, 100)).toBe(0);
    expect(bucket.msUntil(50, 100)).toBe(50);
    expect(bucket.take(10_000, 10_000)).toBe(500);
  });
});

describe('DuplicateScheduler', () => {
  it('copies about the requested fraction to another gateway, due 50..1000 ms later, same bytes', () => {
    const scheduler = new DuplicateScheduler(0.25, 3, 1);
    for (let i = 0; i < 4000; i++) scheduler.consider(item(i, i % 3), 0);
    expect(scheduler.pending).toBeGreaterThan(850);
    expect(scheduler.pending).toBeLessThan(1150);
    expect(scheduler.takeDue(DUPLICATE_MIN_DELAY_MS - 1, Infinity)).toEqual([]);
    const copies = scheduler.takeDue(DUPLICATE_MAX_DELAY_MS, Infinity);
    expect(scheduler.pending).toBe(0);
    for (const copy of copies) {
      expect(copy.duplicate).toBe(true);
      expect(copy.hex).toBe('aa');
      expect(copy.gateway).not.toBe(copy.sequence % 3);
      expect(copy.receivedAt).toBeGreaterThanOrEqual(1_000_000);
    }
  });

  it('releases each copy once, no more per call than the limit', () => {
    const scheduler = new DuplicateScheduler(1, 2, 9);
    for (let i = 0; i < 100; i++) scheduler.consider(item(i), i);
    const dues: number[] = [];
    let previous = -1;
    for (let now = 0; now <= 2000; now += 7) {
      const taken = scheduler.takeDue(now, 3);
      expect(taken.length).toBeLessThanOrEqual(3);
      dues.push(...taken.map((t) => t.sequence));
      previous = now;
    }
    expect(previous).toBeGreaterThan(1000);
    expect(new Set(dues).size).toBe(100);
  });
});

describe('wire helpers', () => {
  it('writes the collector item JSON by hand exactly as JSON.stringify would', () => {
    const wire = { ...item(1), hex: '2a442d2c', receivedAt: Date.UTC(2026, 0, 2, 3, 4, 5, 6) };
    expect(JSON.parse(itemJson(wire, 'sim-gw-01'))).toEqual({
      telegram: '2a442d2c',
      receivedAt: '2026-01-02T03:04:05.006Z',
      rssi: -80,
      gatewayId: 'sim-gw-01',
    });
    expect(JSON.parse(itemJson(wire, undefined))).not.toHaveProperty('gatewayId');
  });

  it('formats receive times as toISOString does, across seconds, backwards and with 1-3 digit milliseconds', () => {
    const base = Date.UTC(2026, 11, 31, 23, 59, 58, 0);
    const times = [0, 5, 42, 999, 1000, 1001, 2010, 1500, 7, 86_400_123, -1].map((offset) => base + offset);
    for (const time of times) expect(isoTime(time)).toBe(new Date(time).toISOString());
    expect(isoTime(0)).toBe('1970-01-01T00:00:00.000Z');
  });

  it('reads Retry-After as seconds or a date, and backs off exponentially up to 10 s', () => {
    expect(retryAfterMs('3', 0)).toBe(3000);
    expect(retryAfterMs(new Date(5000).toUTCString(), 2000)).toBe(3000);
    expect(retryAfterMs(null, 0)).toBeUndefined();
    expect(retryAfterMs('soon', 0)).toBeUndefined();
    expect(backoffMs(0, () => 0)).toBe(125);
    expect(backoffMs(20, () => 1)).toBe(10_000);
  });
});

/** A transport that accepts everything except exact byte repeats, as the collector's dedup does. */
class DedupingTransport implements Transport {
  readonly name = 'http';
  readonly seen = new Set<string>();
  readonly batches: Array<{ gateway: string; items: WireItem[]; at: number }> = [];

  constructor(
    private readonly tally: SimulationTally,
    private readonly now: () => number,
  ) {}

  async send(gateway: SimGateway, items: WireItem[]): Promise<void> {
    this.batches.push({ gateway: gateway.id, items, at: this.now() });
    for (const wire of items) {
      const duplicate = this.seen.has(wire.hex);
      this.seen.add(wire.hex);
      this.tally.outcome(wire, duplicate ? 'duplicate' : 'accepted');
    }
  }

  async close(): Promise<void> {}
}

describe('runSimulation', () => {
  const gateways: SimGateway[] = [
    { id: 'g1', apiKey: 'k1', idMatchesKey: true },
    { id: 'g2', apiKey: 'k2', idMatchesKey: true },
  ];

  it('sends --count originals plus duplicates, counting unique accepted telegrams and their readings exactly', async () => {
    const fleet = createFleet({ meters: 300, seed: 3, groups: 4, omsFraction: 0.1, groupPrefix: 'sim' });
    const tally = new SimulationTally();
    const transport = new DedupingTransport(tally, Date.now);
    const summary = await runSimulation({
      fleet,
      gateways,
      transport,
      tally,
      rate: 200_000,
      duplicates: 0.2,
      count: 5000,
      batchSize: 500,
      concurrency: 2,
      flushMs: 50,
      progressIntervalMs: 60_000,
      onProgress: () => undefined,
    });
    const originals = transport.batches.flatMap((b) => b.items).filter((i) => !i.duplicate);
    const copies = transport.batches.flatMap((b) => b.items).filter((i) => i.duplicate);
    expect(originals).toHaveLength(5000);
    expect(summary.generated).toBe(5000);
    expect(summary.stoppedBy).toBe('count');
    expect(copies.length).toBeGreaterThan(800);
    expect(copies.length).toBeLessThan(1200);
    expect(summary.duplicateCopiesSent).toBe(copies.length);
    expect(summary.uniqueAccepted).toBe(5000);
    expect(summary.accepted).toBe(5000);
    expect(summary.duplicates).toBe(copies.length);
    expect(summary.acceptedMoreThanOnce).toBe(0);
    const kamstrup = originals.filter((o) => o.hex.startsWith('2a442d2c') || o.hex.startsWith('23442d2c'));
    expect(summary.expectedReadings).toBe(kamstrup.length * 4 + (5000 - kamstrup.length) * 2);
    for (const batch of transport.batches) {
      expect(batch.items.length).toBeLessThanOrEqual(500);
      for (const wire of batch.items) expect(gateways[wire.gateway].id).toBe(batch.gateway);
    }
    // The duplicate of a telegram comes from another gateway than the original.
    const originalGateway = new Map(originals.map((o) => [o.sequence, o.gateway]));
    for (const copy of copies) expect(copy.gateway).not.toBe(originalGateway.get(copy.sequence));
    // Receive times strictly increase per meter, so no two readings of a meter share a timestamp.
    const lastByMeter = new Map<string, number>();
    for (const original of [...originals].sort((a, b) => a.sequence - b.sequence)) {
      const meter = original.hex.slice(8, 16);
      expect(original.receivedAt).toBeGreaterThan(lastByMeter.get(meter) ?? 0);
      lastByMeter.set(meter, original.receivedAt);
    }
  });

  it('holds the requested rate (token bucket) over a timed run', async () => {
    const fleet = createFleet({ meters: 100, seed: 4, groups: 2, omsFraction: 0, groupPrefix: 'sim' });
    const tally = new SimulationTally();
    const transport = new DedupingTransport(tally, Date.now);
    const summary = await runSimulation({
      fleet,
      gateways,
      transport,
      tally,
      rate: 2000,
      duplicates: 0,
      durationSeconds: 2,
      batchSize: 100,
      concurrency: 2,
      flushMs: 50,
      progressIntervalMs: 500,
      onProgress: () => undefined,
    });
    expect(summary.stoppedBy).toBe('duration');
    // 2 s at 2000/s; the bucket starts empty, so at most 4000 (+ one tick of rounding).
    expect(summary.sent).toBeGreaterThan(3000);
    expect(summary.sent).toBeLessThanOrEqual(4020);
  });

  it('follows the fleet schedule in real time without --rate (each meter every ~16 s)', async () => {
    const fleet = createFleet({ meters: 160, seed: 5, groups: 2, omsFraction: 0, groupPrefix: 'sim' });
    const tally = new SimulationTally();
    const transport = new DedupingTransport(tally, Date.now);
    const lines: string[] = [];
    const summary = await runSimulation({
      fleet,
      gateways,
      transport,
      tally,
      duplicates: 0,
      durationSeconds: 2,
      batchSize: 500,
      concurrency: 2,
      flushMs: 100,
      progressIntervalMs: 1000,
      onProgress: (line) => lines.push(line),
    });
    // 160 meters / 16 s = 10 telegrams/s, phases uniform over the first cycle: ~20 in 2 s.
    expect(summary.sent).toBeGreaterThan(8);
    expect(summary.sent).toBeLessThan(40);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.at(-1)).toMatch(
      /^simulate: \d+\.\ds sent \d+ \(duplicate copies 0\) accepted \d+ duplicates 0 rejected 0/,
    );
  });

  it('stops on the abort signal and still delivers what it generated', async () => {
    const fleet = createFleet({ meters: 50, seed: 6, groups: 1, omsFraction: 0, groupPrefix: 'sim' });
    const tally = new SimulationTally();
    const transport = new DedupingTransport(tally, Date.now);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 300);
    const summary = await runSimulation({
      fleet,
      gateways,
      transport,
      tally,
      rate: 1000,
      duplicates: 0.5,
      batchSize: 1000,
      concurrency: 1,
      flushMs: 10_000,
      progressIntervalMs: 60_000,
      onProgress: () => undefined,
      signal: abort.signal,
    });
    expect(summary.stoppedBy).toBe('signal');
    expect(summary.generated).toBeGreaterThan(0);
    expect(summary.originalsSent).toBe(summary.generated);
    expect(summary.uniqueAccepted).toBe(summary.generated);
    expect(summary.accepted + summary.duplicates).toBe(summary.sent);
  });
});
