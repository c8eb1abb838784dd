/** A reading as the cache keeps it: the latest value per meter+quantity and a 24-hour window. */
export interface CachedReading {
  meterId: string;
  meterGroup: string;
  /** The reading's name as stored (the driver's field name, e.g. 'total_m3', 'flow_temperature_c'). */
  quantity: string;
  /** M-Bus storage number (0 = current value) and tariff; both default to 0. */
  storage?: number;
  tariff?: number;
  unit: string;
  value: number;
  /** Reading timestamp, epoch milliseconds. */
  ts: number;
}

export interface CachedEvent {
  meterId: string;
  meterGroup: string;
  kind: string;
  ts: number;
  details: Record<string, unknown>;
}

/**
 * The field a reading is cached under within its meter: the quantity for current values (storage 0,
 * tariff 0), and `quantity@s<storage>t<tariff>` for historic/tariff registers so they never overwrite the
 * current value.
 */
export function quantityKey(reading: Pick<CachedReading, 'quantity' | 'storage' | 'tariff'>): string {
  const storage = reading.storage ?? 0;
  const tariff = reading.tariff ?? 0;
  return storage === 0 && tariff === 0 ? reading.quantity : `${reading.quantity}@s${storage}t${tariff}`;
}

/** Redis key and channel names, all under one prefix (default `hes:`) so deployments and tests can share a server. */
export class CacheKeys {
  constructor(readonly prefix = 'hes:') {}

  /** Hash: field = quantity key, value = JSON of the latest reading. */
  latest(meterId: string): string {
    return `${this.prefix}latest:${meterId}`;
  }

  /**
   * Sorted set: one member per telegram, score = ts, member = JSON {ts, values: {<quantity key>: {value,
   * unit}}}; trimmed to the hot window. One set per meter rather than per quantity: one insert, trim and
   * expiry per meter and batch instead of per register.
   */
  window(meterId: string): string {
    return `${this.prefix}window:${meterId}`;
  }

  readingsByGroup(group: string): string {
    return `${this.prefix}readings:group:${group}`;
  }

  readingsByMeter(meterId: string): string {
    return `${this.prefix}readings:meter:${meterId}`;
  }

  eventsByGroup(group: string): string {
    return `${this.prefix}events:group:${group}`;
  }

  eventsByMeter(meterId: string): string {
    return `${this.prefix}events:meter:${meterId}`;
  }
}
