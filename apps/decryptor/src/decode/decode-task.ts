import { CompactFormatStore, decodeTelegram, telegramReadings } from '@hes/wmbus';
import type { CompactFormatEntry, TelegramReadingsOutcome } from '@hes/wmbus';

/**
 * One task for the decode pool: the telegrams of one partition batch packed into a single buffer (one copy
 * across the thread boundary instead of one per message), the 16-byte key of each telegram's meter packed
 * the same way, and the compact-frame formats the main thread currently knows.
 */
export interface DecodeTask {
  /** Every telegram back to back. */
  telegrams: Uint8Array;
  /** End offset of telegram i in `telegrams`. */
  ends: Uint32Array;
  /** 16 bytes per telegram; meaningful only where `hasKey[i]` is 1. */
  keys: Uint8Array;
  hasKey: Uint8Array;
  /** Version of `formats`: a worker rebuilds its format store only when it changes. */
  formatsVersion: number;
  formats: CompactFormatEntry[];
}

/** What one telegram of a task became: the codec's readings mapping, shared with the API's decrypt service. */
export type TelegramOutcome = TelegramReadingsOutcome;

export interface DecodeTaskResult {
  outcomes: TelegramOutcome[];
  /** Formats this task learned from full frames that the task's format list did not hold. */
  learned: CompactFormatEntry[];
  /** Worker time spent decoding, for pool accounting. */
  decodeMs: number;
}

export const KEY_BYTES = 16;

/** Packs telegrams and their keys into the transferable layout of DecodeTask. */
export function packTask(
  items: ReadonlyArray<{ telegram: Buffer; key: Buffer | undefined }>,
  formatsVersion: number,
  formats: CompactFormatEntry[],
): DecodeTask {
  const ends = new Uint32Array(items.length);
  let total = 0;
  items.forEach((item, i) => {
    total += item.telegram.length;
    ends[i] = total;
  });
  const telegrams = new Uint8Array(total);
  const keys = new Uint8Array(items.length * KEY_BYTES);
  const hasKey = new Uint8Array(items.length);
  let at = 0;
  items.forEach((item, i) => {
    telegrams.set(item.telegram, at);
    at += item.telegram.length;
    if (item.key) {
      keys.set(item.key, i * KEY_BYTES);
      hasKey[i] = 1;
    }
  });
  return { telegrams, ends, keys, hasKey, formatsVersion, formats };
}

/**
 * Decodes every telegram of a task. A worker keeps the format store of the last version it saw, so the
 * per-task cost of formats is a number comparison; a full frame teaches its format to the store, so a
 * compact frame later in the same task decodes, and the new format is reported back for persistence.
 */
export class TaskDecoder {
  private formats = new CompactFormatStore();
  private formatsVersion = -1;
  private learned: CompactFormatEntry[] = [];

  decode(task: DecodeTask): DecodeTaskResult {
    const started = performance.now();
    if (task.formatsVersion !== this.formatsVersion) this.loadFormats(task);
    this.learned = [];
    const bytes = Buffer.from(task.telegrams.buffer, task.telegrams.byteOffset, task.telegrams.byteLength);
    const keys = Buffer.from(task.keys.buffer, task.keys.byteOffset, task.keys.byteLength);
    const outcomes: TelegramOutcome[] = new Array(task.ends.length);
    let start = 0;
    for (let i = 0; i < task.ends.length; i++) {
      const end = task.ends[i];
      const key = task.hasKey[i] === 1 ? keys.subarray(i * KEY_BYTES, (i + 1) * KEY_BYTES) : undefined;
      outcomes[i] = this.decodeOne(bytes.subarray(start, end), key);
      start = end;
    }
    keys.fill(0);
    return { outcomes, learned: this.learned, decodeMs: performance.now() - started };
  }

  private decodeOne(telegram: Buffer, key: Buffer | undefined): TelegramOutcome {
    return telegramReadings(decodeTelegram(telegram, { key, formats: this.formats }));
  }

  private loadFormats(task: DecodeTask): void {
    const store = new CompactFormatStore();
    for (const entry of task.formats) store.add(entry);
    store.onLearned((entry) => this.learned.push(entry));
    this.formats = store;
    this.formatsVersion = task.formatsVersion;
  }
}
