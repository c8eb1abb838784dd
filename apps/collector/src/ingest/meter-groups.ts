/**
 * Meter id → meter group, for partitioning. The registry is asked in bulk for the ids a batch needs
 * that are not cached or whose entry is older than `refreshMs`; meters the registry does not know map
 * to the default group (and are re-asked after `refreshMs`, so a registration is picked up). When the
 * registry is unreachable, stale entries keep being served — a meter's partition must not flip to the
 * default group because the database blinked; ids never seen before then make the batch fail.
 */
export interface MeterGroupSource {
  /** Groups of the given meters; meters absent from the result are not registered. */
  groupsOf(meterIds: readonly string[]): Promise<ReadonlyMap<string, string>>;
}

export interface MeterGroupResolverOptions {
  defaultGroup: string;
  refreshMs: number;
  maxEntries: number;
  now?: () => number;
}

interface CachedGroup {
  group: string;
  fetchedAt: number;
}

export class MeterRegistryUnavailableError extends Error {
  constructor(
    options: { cause?: unknown },
    message = 'meter registry unavailable: cannot assign a meter group to meters not seen before',
  ) {
    super(message, options);
    this.name = 'MeterRegistryUnavailableError';
  }
}

export class MeterGroupResolver {
  private readonly cache = new Map<string, CachedGroup>();
  private readonly now: () => number;

  constructor(
    private readonly source: MeterGroupSource,
    private readonly options: MeterGroupResolverOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  async resolve(meterIds: Iterable<string>): Promise<Map<string, string>> {
    const now = this.now();
    const result = new Map<string, string>();
    const toFetch: string[] = [];
    for (const id of new Set(meterIds)) {
      const cached = this.cache.get(id);
      if (cached) result.set(id, cached.group);
      if (!cached || now - cached.fetchedAt >= this.options.refreshMs) toFetch.push(id);
    }
    if (toFetch.length === 0) return result;

    let fetched: ReadonlyMap<string, string>;
    try {
      fetched = await this.source.groupsOf(toFetch);
    } catch (error) {
      if (toFetch.every((id) => result.has(id))) return result;
      throw new MeterRegistryUnavailableError({ cause: error });
    }
    for (const id of toFetch) {
      const group = fetched.get(id) ?? this.options.defaultGroup;
      result.set(id, group);
      this.remember(id, group, now);
    }
    return result;
  }

  private remember(id: string, group: string, now: number): void {
    // Re-insert so Map order stays oldest-fetched first; the bound then evicts the stalest entries.
    this.cache.delete(id);
    this.cache.set(id, { group, fetchedAt: now });
    if (this.cache.size > this.options.maxEntries) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
  }
}
