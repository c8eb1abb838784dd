import { CompactFormatStore } from '@hes/wmbus';
import type { CompactFormatEntry } from '@hes/wmbus';
import type { CompactFormat } from '@hes/storage';

/** The persistence CompactFormatRegistry needs (CompactFormatRepository from @hes/storage). */
export interface CompactFormatPersistence {
  loadAll(): Promise<CompactFormat[]>;
  save(format: Omit<CompactFormat, 'learnedAt'>): Promise<boolean>;
}

/**
 * The decryptor's canonical compact-frame format store: the built-in formats plus every format learned by
 * any decryptor (table compact_formats). Workers get a snapshot with each task and send back what they
 * learn; `persistLearned` writes those to the table first and only then adds them here, so a format is
 * never used for decoding in one process while missing for the others after a restart.
 */
export class CompactFormatRegistry {
  private readonly store = CompactFormatStore.withKnownFormats();
  private snapshotEntries: CompactFormatEntry[] = this.store.entries();
  private currentVersion = 1;

  constructor(
    private readonly persistence: CompactFormatPersistence,
    private readonly onConflict: (message: string) => void,
  ) {}

  /** Monotonic version of the snapshot; changes whenever a format is added. */
  get version(): number {
    return this.currentVersion;
  }

  get size(): number {
    return this.store.size;
  }

  snapshot(): CompactFormatEntry[] {
    return this.snapshotEntries;
  }

  has(entry: Pick<CompactFormatEntry, 'manufacturer' | 'deviceType' | 'signature'>): boolean {
    return this.store.lookup(entry.manufacturer, entry.deviceType, entry.signature) !== undefined;
  }

  /** Loads formats other decryptors learned (at start and periodically); returns how many were new. */
  async refresh(): Promise<number> {
    const rows = await this.persistence.loadAll();
    return this.merge(
      rows.map((row) => ({
        manufacturer: row.manufacturer,
        deviceType: row.deviceType,
        signature: row.signature,
        format: row.format.toString('hex').toUpperCase(),
        source: 'learned' as const,
        learnedAt: row.learnedAt.toISOString(),
      })),
    );
  }

  /** Persists formats a worker learned, then merges them; returns how many were new here. */
  async persistLearned(learned: readonly CompactFormatEntry[]): Promise<number> {
    const saved: CompactFormatEntry[] = [];
    let takenElsewhere = false;
    for (const entry of learned) {
      if (this.has(entry)) continue;
      const inserted = await this.persistence.save({
        manufacturer: entry.manufacturer,
        deviceType: entry.deviceType,
        signature: entry.signature,
        format: Buffer.from(entry.format, 'hex'),
      });
      if (inserted) saved.push(entry);
      else takenElsewhere = true;
    }
    // Another decryptor stored it first: use the stored row, which is what every process will load.
    const fromOthers = takenElsewhere ? await this.refresh() : 0;
    return this.merge(saved) + fromOthers;
  }

  private merge(entries: readonly CompactFormatEntry[]): number {
    let added = 0;
    for (const entry of entries) {
      if (this.has(entry)) continue;
      try {
        this.store.add(entry);
        added += 1;
      } catch (error) {
        // Two formats under one signature (a CRC collision): first writer wins, as in the store itself.
        this.onConflict((error as Error).message);
      }
    }
    if (added > 0) {
      this.snapshotEntries = this.store.entries();
      this.currentVersion += 1;
    }
    return added;
  }
}
