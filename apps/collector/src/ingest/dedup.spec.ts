import { TelegramDeduplicator, telegramFingerprint } from './dedup';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('TelegramDeduplicator', () => {
  it('reports a confirmed telegram as duplicate within the window and as new after it', () => {
    const time = clock();
    const dedup = new TelegramDeduplicator({ windowMs: 300_000, maxEntries: 100, now: time.now });
    expect(dedup.claim('a').status).toBe('new');
    dedup.confirm('a');
    time.advance(299_999);
    expect(dedup.claim('a').status).toBe('duplicate');
    time.advance(2);
    expect(dedup.claim('a').status).toBe('new');
  });

  it('forgets a telegram whose produce failed, so the retry is new', () => {
    const dedup = new TelegramDeduplicator({ windowMs: 1000, maxEntries: 100 });
    expect(dedup.claim('a').status).toBe('new');
    dedup.abandon('a');
    expect(dedup.claim('a').status).toBe('new');
  });

  it('lets a copy claimed while the original is in flight wait for its outcome', async () => {
    const dedup = new TelegramDeduplicator({ windowMs: 1000, maxEntries: 100 });
    dedup.claim('ok');
    dedup.claim('fails');
    const okCopy = dedup.claim('ok');
    const failedCopy = dedup.claim('fails');
    if (okCopy.status !== 'pending' || failedCopy.status !== 'pending')
      throw new Error('expected pending claims');
    dedup.confirm('ok');
    dedup.abandon('fails');
    await expect(okCopy.stored).resolves.toBe(true);
    await expect(failedCopy.stored).resolves.toBe(false);
  });

  it('never holds more than maxEntries confirmed telegrams, evicting the oldest first', () => {
    const dedup = new TelegramDeduplicator({ windowMs: 3_600_000, maxEntries: 3 });
    for (const key of ['a', 'b', 'c', 'd']) {
      dedup.claim(key);
      dedup.confirm(key);
    }
    expect(dedup.size).toBe(3);
    expect(dedup.claim('b').status).toBe('duplicate');
    expect(dedup.claim('a').status).toBe('new');
  });

  it('does not evict in-flight telegrams to make room', () => {
    const dedup = new TelegramDeduplicator({ windowMs: 1000, maxEntries: 2 });
    dedup.claim('a');
    dedup.claim('b');
    dedup.claim('c');
    expect(dedup.claim('a').status).toBe('pending');
    expect(dedup.claim('b').status).toBe('pending');
  });

  it('fingerprints by content', () => {
    expect(telegramFingerprint(Buffer.from('0102', 'hex'))).toBe(telegramFingerprint(Buffer.from([1, 2])));
    expect(telegramFingerprint(Buffer.from([1, 2]))).not.toBe(telegramFingerprint(Buffer.from([1, 3])));
  });
});
