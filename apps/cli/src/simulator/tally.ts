import type { WireItem } from './wire-item';

/** What the collector said about one item of a batch. */
export type ItemStatus = 'accepted' | 'duplicate' | 'rejected';

const BITSET_CHUNK_BITS = 1 << 23;

/** One bit per original sequence number, grown in 1 MiB chunks. */
class SequenceBits {
  private readonly chunks: Uint8Array[] = [];

  /** Sets the bit; returns false when it was set already. */
  set(sequence: number): boolean {
    const chunkIndex = Math.floor(sequence / BITSET_CHUNK_BITS);
    const bit = sequence % BITSET_CHUNK_BITS;
    const chunk = (this.chunks[chunkIndex] ??= new Uint8Array(BITSET_CHUNK_BITS / 8));
    const mask = 1 << (bit & 7);
    if (chunk[bit >> 3] & mask) return false;
    chunk[bit >> 3] |= mask;
    return true;
  }
}

/**
 * The run's counters. The number the pipeline benchmark checks against is `uniqueAccepted`: originals
 * of which at least one copy (original or a gateway duplicate) was accepted. Their readings are
 * `expectedReadings`; `acceptedMoreThanOnce` counts copies accepted after one already was (collector
 * dedup missed them; the decryptor would see the same telegram again with another receive time).
 */
export class SimulationTally {
  generated = 0;
  originalsSent = 0;
  duplicateCopiesSent = 0;
  accepted = 0;
  duplicates = 0;
  rejected = 0;
  readonly rejectReasons: Record<string, number> = {};
  uniqueAccepted = 0;
  acceptedMoreThanOnce = 0;
  expectedReadings = 0;
  /** MQTT: items the broker acknowledged (QoS 1); the collector's verdict is not visible to a publisher. */
  published = 0;
  requests = 0;
  throttled429 = 0;
  unavailable503 = 0;
  retries = 0;
  failedRequests = 0;
  itemsNotDelivered = 0;
  readonly errors: string[] = [];
  private readonly acceptedSequences = new SequenceBits();

  itemSent(item: WireItem): void {
    if (item.duplicate) this.duplicateCopiesSent++;
    else this.originalsSent++;
  }

  outcome(item: WireItem, status: ItemStatus, reasonCode?: string): void {
    if (status === 'duplicate') {
      this.duplicates++;
      return;
    }
    if (status === 'rejected') {
      this.rejected++;
      const code = reasonCode ?? 'UNKNOWN';
      this.rejectReasons[code] = (this.rejectReasons[code] ?? 0) + 1;
      return;
    }
    this.accepted++;
    this.countDelivered(item);
  }

  /** A broker-acknowledged MQTT publish: counted as delivered once per original. */
  publishedItem(item: WireItem): void {
    this.published++;
    this.countDelivered(item);
  }

  notDelivered(items: number, error: string): void {
    this.failedRequests++;
    this.itemsNotDelivered += items;
    if (this.errors.length < 10) this.errors.push(error);
  }

  private countDelivered(item: WireItem): void {
    if (this.acceptedSequences.set(item.sequence)) {
      this.uniqueAccepted++;
      this.expectedReadings += item.readings;
    } else {
      this.acceptedMoreThanOnce++;
    }
  }

  get sent(): number {
    return this.originalsSent + this.duplicateCopiesSent;
  }
}
