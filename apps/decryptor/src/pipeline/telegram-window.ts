import { createHash } from 'node:crypto';

/**
 * Remembers the telegrams of each meter that were stored recently, so the same telegram heard by several
 * gateways (a different envelope and receive time each, hence a different natural key) is stored once.
 *
 * Two-phase on purpose: `isDuplicate` only reads, and `remember` is called after the batch is durably
 * stored. A batch that fails and is redelivered must not find its own telegrams here.
 *
 * The window is measured on receive times, so a backlog replayed long after ingest deduplicates exactly as
 * it would have live. Bounded: past `maxEntries` the oldest entries are evicted first.
 */
export class TelegramWindow {
  /** Insertion-ordered: oldest first, which makes eviction a walk from the front. */
  private readonly seen = new Map<string, number>();

  constructor(
    readonly windowMs: number,
    private readonly maxEntries: number,
  ) {}

  static keyOf(meterId: string, telegram: Buffer): string {
    return `${meterId}:${createHash('sha1').update(telegram).digest('base64')}`;
  }

  /** True when the same telegram of the same meter was stored with a receive time within the window. */
  isDuplicate(key: string, receivedAt: number): boolean {
    if (this.windowMs === 0) return false;
    const previous = this.seen.get(key);
    return previous !== undefined && Math.abs(receivedAt - previous) <= this.windowMs;
  }

  remember(key: string, receivedAt: number): void {
    if (this.windowMs === 0) return;
    const previous = this.seen.get(key);
    // Keep the earliest receive time: later copies must not stretch the window forward indefinitely.
    if (previous !== undefined && previous <= receivedAt) return;
    this.seen.delete(key);
    this.seen.set(key, receivedAt);
    while (this.seen.size > this.maxEntries) {
      const oldest = this.seen.keys().next().value as string;
      this.seen.delete(oldest);
    }
  }

  get size(): number {
    return this.seen.size;
  }
}
