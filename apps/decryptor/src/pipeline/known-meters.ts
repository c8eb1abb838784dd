/** The registry lookup KnownMeters needs (MeterRepository.findByIds from @hes/storage). */
export interface MeterRegistrySource {
  findByIds(meterIds: readonly string[]): Promise<Array<{ meterId: string }>>;
}

/**
 * Which meters have a row in `meters`, asked once per batch for the ids not cached. A registered meter stays
 * known (meters are not deleted while they transmit); "not registered" is believed for `unknownTtlMs` only,
 * so a meter commissioned after it was first heard is decoded within that time.
 */
export class KnownMeters {
  private readonly registered = new Set<string>();
  private readonly unregisteredUntil = new Map<string, number>();

  constructor(
    private readonly source: MeterRegistrySource,
    private readonly unknownTtlMs: number,
    private readonly maxUnregistered = 100_000,
  ) {}

  /** The subset of `meterIds` (8 hex digits, any case) that is registered. */
  async registeredAmong(meterIds: Iterable<string>, now = Date.now()): Promise<Set<string>> {
    const result = new Set<string>();
    const ask: string[] = [];
    for (const meterId of new Set(meterIds)) {
      const id = meterId.toUpperCase();
      if (this.registered.has(id)) result.add(meterId);
      else if ((this.unregisteredUntil.get(id) ?? 0) > now) continue;
      else ask.push(meterId);
    }
    if (ask.length === 0) return result;
    const found = new Set((await this.source.findByIds(ask)).map((meter) => meter.meterId.toUpperCase()));
    for (const meterId of ask) {
      const id = meterId.toUpperCase();
      if (found.has(id)) {
        this.registered.add(id);
        this.unregisteredUntil.delete(id);
        result.add(meterId);
      } else {
        if (this.unregisteredUntil.size >= this.maxUnregistered) this.unregisteredUntil.clear();
        this.unregisteredUntil.set(id, now + this.unknownTtlMs);
      }
    }
    return result;
  }
}
