import { createServer, Server, Socket, connect } from 'node:net';
import { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import { CachedReading, quantityKey } from './keys';
import { CacheUnavailableError, ReadingCache } from './reading-cache';

/** Integration tests against the local Redis (REDIS_URL or 127.0.0.1:6379), isolated by a unique key prefix. */
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `hes-test-cache-${process.pid}-${Date.now()}:`;
const NOW = Date.UTC(2026, 10, 24, 12);
const HOUR = 3_600_000;

const reading = (
  meterId: string,
  ts: number,
  value: number,
  extra: Partial<CachedReading> = {},
): CachedReading => ({
  meterId,
  meterGroup: 'tower-a',
  quantity: 'volume',
  unit: 'm3',
  value,
  ts,
  ...extra,
});

/** A TCP pass-through to Redis that can be taken down and brought back on the same port, to stage outages. */
class SwitchableProxy {
  private server: Server | undefined;
  private sockets = new Set<Socket>();
  port = 0;

  async up(): Promise<void> {
    const target = new URL(REDIS_URL);
    this.server = createServer((client) => {
      const upstream = connect(Number(target.port || 6379), target.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Registers of a telegram (4–6 of them), as readings of one meter at one ts. */
const REGISTERS: Partial<CachedReading>[] = [
  {},
  { storage: 1 },
  { quantity: 'flow_temperature', unit: 'C' },
  { quantity: 'external_temperature', unit: 'C' },
  { tariff: 1 },
  { quantity: 'flow', unit: 'm3/h' },
];

const telegram = (meterId: string, meterGroup: string, ts: number, registers: number): CachedReading[] =>
  REGISTERS.slice(0, registers).map((register, j) =>
    reading(meterId, ts, ts / HOUR + j / 10, { meterGroup, ...register }),
  );

/**
 * Script calls (EVAL or EVALSHA) whose packed argument names keys under `keyPrefix`, as MONITOR sees them
 * while `work` runs: counted by Redis itself, whatever else uses the server meanwhile.
 */
async function scriptCallsDuring(keyPrefix: string, work: () => Promise<unknown>): Promise<number> {
  const sender = new Redis(REDIS_URL);
  const monitor = await sender.monitor();
  const marker = `end-of-${keyPrefix}`;
  let calls = 0;
  let markerSeen = false;
  monitor.on('monitor', (_time: string, args: string[]) => {
    const command = args[0]?.toLowerCase();
    if ((command === 'eval' || command === 'evalsha') && args.some((a) => a.includes(keyPrefix))) calls += 1;
    if (command === 'echo' && args[1] === marker) markerSeen = true;
  });
  try {
    await work();
    // MONITOR reports commands in the order the server ran them: once the marker is seen, so are the calls.
    await sender.echo(marker);
    await waitFor(() => markerSeen);
  } finally {
    sender.disconnect();
    monitor.disconnect();
  }
  return calls;
}

async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('ReadingCache against Redis', () => {
  let admin: Redis;
  let cache: ReadingCache;

  beforeAll(async () => {
    admin = new Redis(REDIS_URL);
    cache = new ReadingCache({ url: REDIS_URL, keyPrefix: prefix });
    expect(await cache.connect()).toBe(true);
  });

  afterAll(async () => {
    await cache.close();
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
  });

  it('keeps the newest value per meter+quantity and ignores back-dated readings', async () => {
    const first = await cache.applyReadings(
      [
        reading('M1', NOW - 2 * HOUR, 10),
        reading('M1', NOW - HOUR, 11),
        reading('M1', NOW - HOUR, 99, { storage: 1 }),
        reading('M2', NOW - HOUR, 5, { quantity: 'flow_temperature', unit: 'C' }),
      ],
      NOW,
    );
    expect(first.latestUpdated).toBe(4);
    const backDated = await cache.applyReadings([reading('M1', NOW - 3 * HOUR, 7)], NOW);
    expect(backDated.latestUpdated).toBe(0);
    const latest = await cache.getLatest('M1');
    expect(Object.keys(latest).sort()).toEqual(['volume', 'volume@s1t0']);
    expect(latest.volume).toMatchObject({ value: 11, ts: NOW - HOUR, unit: 'm3', meterGroup: 'tower-a' });
    expect(latest['volume@s1t0'].value).toBe(99);
    expect((await cache.getLatest('M2')).flow_temperature.value).toBe(5);
    // Within one batch too: a back-dated reading after a newer one of the same register is not latest.
    const mixed = await cache.applyReadings(
      [reading('M3', NOW - HOUR, 1), reading('M3', NOW - 2 * HOUR, 2)],
      NOW,
    );
    expect(mixed.latestUpdated).toBe(1);
    expect((await cache.getLatest('M3')).volume.value).toBe(1);
  });

  it('keeps a 24-hour window per meter, trimmed and expiring, read per quantity', async () => {
    await cache.applyReadings(
      [reading('W1', NOW - 30 * HOUR, 1), reading('W1', NOW - 23 * HOUR, 2), reading('W1', NOW - HOUR, 3)],
      NOW - HOUR,
    );
    // A later batch moves the window on: the 23-hour-old point is now 25 hours old.
    await cache.applyReadings([reading('W1', NOW + HOUR, 4), reading('W1', NOW + HOUR, 4)], NOW + 2 * HOUR);
    const points = await cache.getWindow('W1', 'volume');
    expect(points).toEqual([
      { ts: NOW - HOUR, value: 3, unit: 'm3' },
      { ts: NOW + HOUR, value: 4, unit: 'm3' },
    ]);
    const ttl = await admin.pttl(`${prefix}window:W1`);
    expect(ttl).toBeGreaterThan(23 * HOUR);
    expect(ttl).toBeLessThanOrEqual(24 * HOUR);
    expect(await cache.getWindow('W1', 'volume', NOW)).toHaveLength(1);
  });

  it('keeps one window point per telegram holding all its registers', async () => {
    const telegram = (ts: number, volume: number) => [
      reading('W2', ts, volume),
      reading('W2', ts, 18.5, { quantity: 'flow_temperature', unit: 'C' }),
      reading('W2', ts, volume - 1, { storage: 1 }),
    ];
    await cache.applyReadings([...telegram(NOW - HOUR, 7), ...telegram(NOW, 8)], NOW);
    // The same register twice at one ts with different values (two telegrams): two points, as stored.
    await cache.applyReadings([reading('W2', NOW + 1, 9), reading('W2', NOW + 1, 10)], NOW);
    expect(await admin.zcard(`${prefix}window:W2`)).toBe(4);
    expect(await cache.getWindow('W2', 'volume')).toEqual([
      { ts: NOW - HOUR, value: 7, unit: 'm3' },
      { ts: NOW, value: 8, unit: 'm3' },
      { ts: NOW + 1, value: 10, unit: 'm3' },
      { ts: NOW + 1, value: 9, unit: 'm3' },
    ]);
    expect(await cache.getWindow('W2', 'volume@s1t0')).toEqual([
      { ts: NOW - HOUR, value: 6, unit: 'm3' },
      { ts: NOW, value: 7, unit: 'm3' },
    ]);
    expect(await cache.getWindow('W2', 'flow_temperature', NOW)).toEqual([
      { ts: NOW, value: 18.5, unit: 'C' },
    ]);
    expect(await cache.getWindow('W2', 'pressure')).toEqual([]);
  });

  it('leaves out readings whose names hold a NUL byte, counting them as misses, and writes the rest', async () => {
    const misses: [string, number][] = [];
    const strict = new ReadingCache({
      url: REDIS_URL,
      keyPrefix: prefix,
      onMiss: (operation, count) => misses.push([operation, count]),
    });
    expect(await strict.connect()).toBe(true);
    const result = await strict.applyReadings(
      [
        reading('N1', NOW, 1),
        reading('N1', NOW, 2, { quantity: 'vol\u0000ume' }),
        reading('N2', NOW, 3, { meterGroup: 'a\u0000b' }),
      ],
      NOW,
    );
    expect(result.latestUpdated).toBe(1);
    expect(misses).toEqual([['write', 2]]);
    expect(Object.keys(await cache.getLatest('N1'))).toEqual(['volume']);
    expect(await cache.getLatest('N2')).toEqual({});
    await strict.close();
    expect(() => new ReadingCache({ url: REDIS_URL, keyPrefix: 'a\u0000' })).toThrow('NUL');
  });

  it('cuts a batch into calls of whole meters of at most maxReadingsPerCall readings, as one call would write', async () => {
    const cutPrefix = `${prefix}cut:`;
    const wholePrefix = `${prefix}whole:`;
    const cut = new ReadingCache({ url: REDIS_URL, keyPrefix: cutPrefix, maxReadingsPerCall: 10 });
    const whole = new ReadingCache({ url: REDIS_URL, keyPrefix: wholePrefix, maxReadingsPerCall: 10_000 });
    const cutGroups = `${cutPrefix}readings:group:*`;
    const wholeGroups = `${wholePrefix}readings:group:*`;
    const published: Record<string, CachedReading[][]> = { [cutGroups]: [], [wholeGroups]: [] };
    const subscriber = new Redis(REDIS_URL);
    subscriber.on('pmessage', (pattern: string, _channel: string, message: string) =>
      published[pattern].push(JSON.parse(message) as CachedReading[]),
    );
    await subscriber.psubscribe(cutGroups, wholeGroups);
    const seed = [reading('C2', NOW, 50, { meterGroup: 'g-b' }), reading('C5', NOW - 5 * HOUR, 1)];
    // As a fetch delivers them: meters interleaved, C3 over the cap (two telegrams of 6), C6 outside the
    // window, C1's second telegram back-dated, C2's volume older than its seeded latest value.
    const batch = [
      ...telegram('C1', 'g-a', NOW - 2 * HOUR, 4),
      ...telegram('C2', 'g-b', NOW - 2 * HOUR, 5),
      ...telegram('C3', 'g-a', NOW - 2 * HOUR, 6),
      ...telegram('C4', 'g-c', NOW - 2 * HOUR, 6),
      ...telegram('C5', 'g-b', NOW - 2 * HOUR, 4),
      ...telegram('C3', 'g-a', NOW - HOUR, 6),
      ...telegram('C6', 'g-a', NOW - 30 * HOUR, 5),
      ...telegram('C7', 'g-c', NOW - HOUR, 4),
      ...telegram('C8', 'g-b', NOW - HOUR, 5),
      ...telegram('C1', 'g-a', NOW - 3 * HOUR, 4),
    ];
    try {
      for (const c of [cut, whole]) {
        expect(await c.connect()).toBe(true);
        await c.applyReadings(seed, NOW);
      }
      let cutResult = { latestUpdated: -1 };
      let wholeResult = { latestUpdated: -1 };
      // Per meter in batch order: C1 8 | C2 5 | C3 12 alone | C4 6 + C5 4 | C6 5 + C7 4 | C8 5.
      expect(
        await scriptCallsDuring(cutPrefix, async () => (cutResult = await cut.applyReadings(batch, NOW))),
      ).toBe(6);
      expect(
        await scriptCallsDuring(
          wholePrefix,
          async () => (wholeResult = await whole.applyReadings(batch, NOW)),
        ),
      ).toBe(1);
      // All but C2's volume and C1's back-dated telegram; C3's register twice.
      expect(cutResult).toEqual({ latestUpdated: 44 });
      expect(wholeResult).toEqual({ latestUpdated: 44 });

      for (const meterId of ['C1', 'C2', 'C3', 'C4', 'C5', 'C6', 'C7', 'C8']) {
        const latest = await admin.hgetall(`${cutPrefix}latest:${meterId}`);
        expect(Object.keys(latest).length).toBeGreaterThanOrEqual(4);
        expect(latest).toEqual(await admin.hgetall(`${wholePrefix}latest:${meterId}`));
        expect(await admin.zrange(`${cutPrefix}window:${meterId}`, '0', '-1', 'WITHSCORES')).toEqual(
          await admin.zrange(`${wholePrefix}window:${meterId}`, '0', '-1', 'WITHSCORES'),
        );
      }
      expect((await cut.getLatest('C2')).volume).toMatchObject({ value: 50, ts: NOW });
      expect(await admin.zcard(`${cutPrefix}window:C3`)).toBe(2);
      expect(await admin.zcard(`${cutPrefix}window:C6`)).toBe(0);

      // One notification per group and call carrying readings of the group: the same readings as one call.
      // The seed's two groups, then C1 | C2 | C3 | C4, C5 | C6, C7 | C8 against g-a, g-b, g-c in one call.
      await waitFor(() => published[cutGroups].length === 2 + 8 && published[wholeGroups].length === 2 + 3);
      const readingsOf = (messages: CachedReading[][]) =>
        messages
          .flat()
          .map((r) => `${r.meterGroup}/${r.meterId}/${quantityKey(r)}/${r.ts}`)
          .sort();
      expect(readingsOf(published[cutGroups])).toEqual(readingsOf(published[wholeGroups]));
      expect(readingsOf(published[cutGroups])).toHaveLength(seed.length + batch.length);
    } finally {
      subscriber.disconnect();
      await cut.close();
      await whole.close();
    }
  });

  it('never splits a telegram across calls: a meter with more readings than the cap goes alone', async () => {
    const cutPrefix = `${prefix}telegram:`;
    const cut = new ReadingCache({ url: REDIS_URL, keyPrefix: cutPrefix, maxReadingsPerCall: 4 });
    expect(await cut.connect()).toBe(true);
    try {
      const calls = await scriptCallsDuring(cutPrefix, () =>
        cut.applyReadings(
          [
            ...telegram('T1', 'g-a', NOW, 6),
            ...telegram('T2', 'g-a', NOW, 4),
            ...telegram('T3', 'g-b', NOW, 4),
          ],
          NOW,
        ),
      );
      expect(calls).toBe(3);
      const members = await admin.zrange(`${cutPrefix}window:T1`, '0', '-1');
      expect(members).toHaveLength(1);
      expect(Object.keys((JSON.parse(members[0]) as { values: object }).values).sort()).toEqual([
        'external_temperature',
        'flow',
        'flow_temperature',
        'volume',
        'volume@s0t1',
        'volume@s1t0',
      ]);
      expect(Object.keys(await cut.getLatest('T1'))).toHaveLength(6);
      expect(Object.keys(await cut.getLatest('T3'))).toHaveLength(4);
    } finally {
      await cut.close();
    }
    expect(() => new ReadingCache({ url: REDIS_URL, maxReadingsPerCall: 0 })).toThrow('maxReadingsPerCall');
  });

  it('publishes each batch on the meter group and meter channels, and events likewise', async () => {
    const subscriber = new Redis(REDIS_URL);
    const received: { channel: string; payload: unknown }[] = [];
    subscriber.on('message', (channel: string, message: string) =>
      received.push({ channel, payload: JSON.parse(message) }),
    );
    await subscriber.subscribe(cache.keys.readingsByGroup('tower-b'), cache.keys.readingsByMeter('P1'));
    await subscriber.subscribe(cache.keys.eventsByGroup('tower-b'));
    await cache.applyReadings(
      [
        reading('P1', NOW, 1, { meterGroup: 'tower-b' }),
        reading('P2', NOW, 2, { meterGroup: 'tower-b' }),
        reading('P3', NOW, 3, { meterGroup: 'tower-c' }),
      ],
      NOW,
    );
    await cache.publishEvents([{ meterId: 'P2', meterGroup: 'tower-b', kind: 'leak', ts: NOW, details: {} }]);
    await waitFor(() => received.length === 3);
    const byChannel = Object.fromEntries(received.map((r) => [r.channel, r.payload]));
    expect(
      (byChannel[cache.keys.readingsByGroup('tower-b')] as CachedReading[]).map((r) => r.meterId),
    ).toEqual(['P1', 'P2']);
    expect((byChannel[cache.keys.readingsByMeter('P1')] as CachedReading[]).map((r) => r.value)).toEqual([1]);
    expect(byChannel[cache.keys.eventsByGroup('tower-b')]).toEqual([
      expect.objectContaining({ kind: 'leak', meterId: 'P2' }),
    ]);
    subscriber.disconnect();
  });

  it('fails fast when Redis is unreachable, counts misses and bounds what it remembers', async () => {
    const misses: [string, number][] = [];
    const down = new ReadingCache({
      url: `redis://127.0.0.1:${await closedPort()}`,
      keyPrefix: prefix,
      maxDirtyEntries: 2,
      onMiss: (operation, count) => misses.push([operation, count]),
    });
    expect(await down.connect()).toBe(false);
    const started = Date.now();
    await expect(
      down.applyReadings([reading('D1', NOW, 1), reading('D2', NOW, 2), reading('D3', NOW, 3)], NOW),
    ).rejects.toBeInstanceOf(CacheUnavailableError);
    await expect(down.getLatest('D1')).rejects.toThrow('Redis unavailable for reading latest values');
    expect(Date.now() - started).toBeLessThan(500);
    expect(misses).toEqual([
      ['write', 3],
      ['read', 1],
    ]);
    expect(down.dirtyCount).toBe(2);
    await down.close();
  });

  it('replays the newest remembered latest values when Redis comes back', async () => {
    const proxy = new SwitchableProxy();
    await proxy.up();
    // One reading per call: the replay of R1 and R2 takes two calls.
    const flaky = new ReadingCache({
      url: `redis://127.0.0.1:${proxy.port}`,
      keyPrefix: prefix,
      maxReadingsPerCall: 1,
    });
    expect(await flaky.connect()).toBe(true);
    await flaky.applyReadings([reading('R1', NOW - HOUR, 1)], NOW);

    await proxy.down();
    await waitFor(() => !flaky.ready);
    await expect(flaky.applyReadings([reading('R1', NOW, 2)], NOW)).rejects.toBeInstanceOf(
      CacheUnavailableError,
    );
    await expect(flaky.applyReadings([reading('R1', NOW + 1, 3)], NOW)).rejects.toBeInstanceOf(
      CacheUnavailableError,
    );
    await expect(
      flaky.applyReadings([reading('R1', NOW - 1, 0), reading('R2', NOW, 20)], NOW),
    ).rejects.toBeInstanceOf(CacheUnavailableError);
    expect(flaky.dirtyCount).toBe(2);
    expect((await cache.getLatest('R1')).volume.value).toBe(1);

    await proxy.up();
    await waitFor(() => flaky.dirtyCount === 0, 8000);
    expect((await cache.getLatest('R1')).volume).toMatchObject({ value: 3, ts: NOW + 1 });
    expect((await cache.getLatest('R2')).volume.value).toBe(20);
    expect(await flaky.catchUp()).toEqual({ replayed: 0, complete: true });
    await flaky.close();
    await proxy.down();
  });
});
