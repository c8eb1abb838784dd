import { SeededRandom } from './random';
import type { WireItem } from './wire-item';

/** A duplicate reaches the collector between these many ms after the original was generated. */
export const DUPLICATE_MIN_DELAY_MS = 50;
export const DUPLICATE_MAX_DELAY_MS = 1000;
/** Gateways' clocks differ a little: the copy's receive time is this much later at most. */
const RECEIVE_SKEW_MS = 40;

interface Pending {
  due: number;
  item: WireItem;
}

/**
 * Overlapping gateways: a fraction of telegrams is heard again by another gateway, whose copy (the same
 * bytes) arrives within about a second. Copies wait in a min-heap by due time.
 */
export class DuplicateScheduler {
  private readonly heap: Pending[] = [];
  private readonly random: SeededRandom;

  constructor(
    readonly fraction: number,
    readonly gateways: number,
    seed: number,
  ) {
    if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`duplicates must be 0..1, got ${fraction}`);
    this.random = new SeededRandom(seed);
  }

  get pending(): number {
    return this.heap.length;
  }

  /** Decides whether `original` (sent at `now`) is also heard by another gateway, and schedules that copy. */
  consider(original: WireItem, now: number): void {
    if (this.fraction === 0 || !this.random.chance(this.fraction)) return;
    const other =
      this.gateways < 2
        ? original.gateway
        : (original.gateway + 1 + this.random.int(0, this.gateways - 2)) % this.gateways;
    const item: WireItem = {
      ...original,
      gateway: other,
      duplicate: true,
      receivedAt: original.receivedAt + this.random.int(0, RECEIVE_SKEW_MS),
      rssi: original.rssi - this.random.int(3, 20),
    };
    this.push({ due: now + this.random.int(DUPLICATE_MIN_DELAY_MS, DUPLICATE_MAX_DELAY_MS), item });
  }

  /** Due time of the earliest copy, or undefined when none waits. */
  nextDue(): number | undefined {
    return this.heap[0]?.due;
  }

  /** Removes and returns up to `max` copies due at `now`, earliest first. */
  takeDue(now: number, max: number): WireItem[] {
    const out: WireItem[] = [];
    while (out.length < max && this.heap.length > 0 && this.heap[0].due <= now) out.push(this.pop().item);
    return out;
  }

  /** Every waiting copy regardless of due time (the run is ending). */
  takeAll(): WireItem[] {
    const out: WireItem[] = [];
    while (this.heap.length > 0) out.push(this.pop().item);
    return out;
  }

  private push(entry: Pending): void {
    const heap = this.heap;
    heap.push(entry);
    let child = heap.length - 1;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (heap[parent].due <= heap[child].due) break;
      [heap[parent], heap[child]] = [heap[child], heap[parent]];
      child = parent;
    }
  }

  private pop(): Pending {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let parent = 0;
      while (true) {
        const left = 2 * parent + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const smaller = right < heap.length && heap[right].due < heap[left].due ? right : left;
        if (heap[parent].due <= heap[smaller].due) break;
        [heap[parent], heap[smaller]] = [heap[smaller], heap[parent]];
        parent = smaller;
      }
    }
    return top;
  }
}
