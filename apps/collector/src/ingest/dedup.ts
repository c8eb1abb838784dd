import { hash } from 'node:crypto';

/**
 * Drops exact duplicate telegrams (the same bytes heard by several gateways, or re-sent) before they
 * reach Kafka. A telegram counts as seen only once it was durably produced: while its first copy is
 * in flight, later copies wait for that outcome, and if producing it failed they are not dropped.
 *
 * Memory is bounded twice: entries older than `windowMs` are evicted, and at most `maxEntries` are
 * kept (oldest evicted first), so under extreme rates the effective window shrinks rather than the
 * heap growing. Scope is one collector process; copies that reach different collector instances
 * are caught downstream by the decryptor's idempotent storage (natural key per reading).
 */
export type DedupClaim =
  | { status: 'new' }
  | { status: 'duplicate' }
  /** Another request is producing the same bytes; resolves true when it was stored. */
  | { status: 'pending'; stored: Promise<boolean> };

interface Entry {
  seenAt: number;
  waiters?: Array<(stored: boolean) => void>;
  inFlight: boolean;
}

export interface DedupOptions {
  windowMs: number;
  maxEntries: number;
  now?: () => number;
}

export function telegramFingerprint(bytes: Uint8Array): string {
  // 128 bits of SHA-256: collisions are negligible at any realistic window size. The one-shot hash() skips
  // the Hash object createHash() builds per call.
  return hash('sha256', bytes, 'base64').slice(0, 22);
}

export class TelegramDeduplicator {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(private readonly options: DedupOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  claim(fingerprint: string): DedupClaim {
    const now = this.now();
    const entry = this.entries.get(fingerprint);
    if (entry?.inFlight) {
      return {
        status: 'pending',
        stored: new Promise<boolean>((resolve) => (entry.waiters ??= []).push(resolve)),
      };
    }
    if (entry && entry.seenAt >= now - this.options.windowMs) return { status: 'duplicate' };
    if (entry) this.entries.delete(fingerprint);
    this.evict(now);
    this.entries.set(fingerprint, { seenAt: now, inFlight: true });
    return { status: 'new' };
  }

  /** The telegram was durably produced: later copies within the window are duplicates. */
  confirm(fingerprint: string): void {
    const entry = this.entries.get(fingerprint);
    if (!entry || !entry.inFlight) return;
    entry.inFlight = false;
    this.settle(entry, true);
  }

  /** Producing failed: forget the telegram so a retry is not mistaken for a duplicate. */
  abandon(fingerprint: string): void {
    const entry = this.entries.get(fingerprint);
    if (!entry || !entry.inFlight) return;
    this.entries.delete(fingerprint);
    this.settle(entry, false);
  }

  private settle(entry: Entry, stored: boolean): void {
    const waiters = entry.waiters;
    entry.waiters = undefined;
    waiters?.forEach((resolve) => resolve(stored));
  }

  /**
   * Map iteration follows insertion order, which is claim time order, so expired entries are at the
   * head. In-flight entries are skipped (never evicted): their number is bounded by the collector's
   * in-flight limit, so the scan past them stays short.
   */
  private evict(now: number): void {
    const expiredBefore = now - this.options.windowMs;
    let excess = this.entries.size - this.options.maxEntries + 1;
    for (const [fingerprint, entry] of this.entries) {
      const expired = entry.seenAt < expiredBefore;
      if (!expired && excess <= 0) break;
      if (entry.inFlight) continue;
      this.entries.delete(fingerprint);
      excess--;
    }
  }
}
