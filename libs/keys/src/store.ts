import { MeterKeyCipher } from './cipher';
import { MeterKey } from './meter-key';

/** One row of the meter_keys table as the storage layer returns it (ciphertext only, never plaintext). */
export interface EncryptedMeterKeyRecord {
  meterId: string;
  ciphertext: Buffer;
  iv: Buffer;
  tag: Buffer;
  fingerprint: string;
  setAt: Date;
}

/** The subset of the storage layer's MeterKeyRepository the key store needs. */
export interface MeterKeySource {
  loadAll(): Promise<EncryptedMeterKeyRecord[]>;
  /** Records whose set_at is at or after `since` (inclusive, so rows written in the same millisecond are not missed). */
  loadChangedSince(since: Date): Promise<EncryptedMeterKeyRecord[]>;
  /** One meter's record, or undefined when it has none (lets `reload` see deletions). */
  load?(meterId: string): Promise<EncryptedMeterKeyRecord | undefined>;
}

/** A record that could not be decrypted; carries no key material, only what an operator needs to fix it. */
export interface MeterKeyLoadFailure {
  meterId: string;
  fingerprint: string;
  reason: string;
}

export interface MeterKeyRefreshResult {
  loaded: number;
  failures: MeterKeyLoadFailure[];
}

/**
 * In-memory cache of decrypted meter keys for the decryptor. `load()` reads every record once;
 * `refresh()` reads only records changed since the newest set_at seen (call it on a LISTEN/NOTIFY
 * signal or from a timer via `startPolling`). A record that fails to decrypt does not stop the others
 * and does not evict a previously good key for that meter: it is reported in the result instead.
 */
export class MeterKeyStore {
  private readonly keys = new Map<string, MeterKey>();
  private newestSetAt: Date | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private refreshInFlight: Promise<MeterKeyRefreshResult> | undefined;

  constructor(
    private readonly source: MeterKeySource,
    private readonly cipher: MeterKeyCipher,
  ) {}

  get size(): number {
    return this.keys.size;
  }

  get(meterId: string): MeterKey | undefined {
    return this.keys.get(meterId);
  }

  async load(): Promise<MeterKeyRefreshResult> {
    return this.apply(await this.source.loadAll());
  }

  /** Concurrent calls share one repository query, so a burst of notifications costs one round trip. */
  refresh(): Promise<MeterKeyRefreshResult> {
    if (!this.refreshInFlight) {
      const since = this.newestSetAt;
      const query = since ? this.source.loadChangedSince(since) : this.source.loadAll();
      this.refreshInFlight = query
        .then((records) => this.apply(records))
        .finally(() => {
          this.refreshInFlight = undefined;
        });
    }
    return this.refreshInFlight;
  }

  /**
   * Re-reads one meter's record, e.g. on a change notification naming it. Unlike `refresh` this also sees
   * a deleted key: the cached key is wiped and dropped. Needs a source with `load`.
   */
  async reload(meterId: string): Promise<MeterKeyRefreshResult> {
    if (!this.source.load) throw new Error('reload needs a MeterKeySource with load(meterId)');
    const record = await this.source.load(meterId);
    if (record) return this.apply([record]);
    this.keys.get(meterId)?.wipe();
    this.keys.delete(meterId);
    return { loaded: 0, failures: [] };
  }

  /** Polls for changed keys; `onError` receives repository errors (they never stop the timer). */
  startPolling(intervalMs: number, onError: (error: unknown) => void): void {
    this.stopPolling();
    this.pollTimer = setInterval(() => {
      this.refresh().catch(onError);
    }, intervalMs);
    this.pollTimer.unref();
  }

  stopPolling(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  private apply(records: EncryptedMeterKeyRecord[]): MeterKeyRefreshResult {
    const failures: MeterKeyLoadFailure[] = [];
    let loaded = 0;
    for (const record of records) {
      if (!this.newestSetAt || record.setAt > this.newestSetAt) this.newestSetAt = record.setAt;
      const current = this.keys.get(record.meterId);
      if (current && current.fingerprint === record.fingerprint && current.setAt >= record.setAt) continue;
      let material: Buffer;
      try {
        material = this.cipher.decrypt(record.meterId, record);
      } catch (error) {
        failures.push({
          meterId: record.meterId,
          fingerprint: record.fingerprint,
          reason: error instanceof Error ? error.message : String(error),
        });
        continue;
      }
      if (this.cipher.fingerprint(material) !== record.fingerprint) {
        material.fill(0);
        failures.push({
          meterId: record.meterId,
          fingerprint: record.fingerprint,
          reason: `stored fingerprint of meter ${record.meterId} does not match its decrypted key`,
        });
        continue;
      }
      const key = new MeterKey(record.meterId, material, record.fingerprint, record.setAt);
      material.fill(0);
      current?.wipe();
      this.keys.set(record.meterId, key);
      loaded += 1;
    }
    return { loaded, failures };
  }
}
