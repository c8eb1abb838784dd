import type { Fleet, SimulatedMeter } from './fleet';
import { advanceMeter, initialMeterState, nextGapMs, type MeterState } from './meter-state';
import { ReadingCounter } from './readings';
import { buildTelegram, type FrameKind } from './telegram-factory';

/** One original transmission of a meter. */
export interface GeneratedTelegram {
  /** 0-based position in the generator's output. */
  sequence: number;
  meter: SimulatedMeter;
  frame: FrameKind;
  bytes: Buffer;
  /** Simulated time of the transmission, ms since epoch. */
  time: number;
  /** Readings the pipeline extracts from it (see ReadingCounter). */
  readings: number;
}

/**
 * Produces the fleet's transmissions in simulated-time order: every meter on its own jittered cycle,
 * phase-shifted from the others. A binary min-heap over (next time, meter) keeps each step O(log n).
 * Simulated time is decoupled from the wall clock: the sender decides how fast it is consumed (in
 * real time, or as fast as a requested rate allows).
 */
export class TelegramGenerator {
  private readonly states: MeterState[];
  private readonly heapTimes: Float64Array;
  private readonly heapMeters: Int32Array;
  private sequence = 0;

  constructor(
    private readonly fleet: Fleet,
    readonly startTime: number,
    readonly readings: ReadingCounter = new ReadingCounter(),
  ) {
    const count = fleet.meters.length;
    this.states = fleet.meters.map((meter) => initialMeterState(meter, startTime));
    this.heapTimes = new Float64Array(count);
    this.heapMeters = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      this.heapTimes[i] = startTime + fleet.meters[i].phaseSeconds * 1000;
      this.heapMeters[i] = i;
      this.siftUp(i);
    }
  }

  /** Simulated time of the next transmission. */
  get nextTime(): number {
    return this.heapTimes[0];
  }

  get produced(): number {
    return this.sequence;
  }

  stateOf(meterIndex: number): Readonly<MeterState> {
    return this.states[meterIndex];
  }

  next(): GeneratedTelegram {
    const time = this.heapTimes[0];
    const meterIndex = this.heapMeters[0];
    const meter = this.fleet.meters[meterIndex];
    const state = this.states[meterIndex];
    advanceMeter(meter, state, time);
    const { frame, bytes } = buildTelegram(meter, state);
    this.heapTimes[0] = time + nextGapMs(meter, state);
    this.siftDown(0);
    return {
      sequence: this.sequence++,
      meter,
      frame,
      bytes,
      time,
      readings: this.readings.count(meter, frame, bytes),
    };
  }

  private swap(a: number, b: number): void {
    const time = this.heapTimes[a];
    this.heapTimes[a] = this.heapTimes[b];
    this.heapTimes[b] = time;
    const meter = this.heapMeters[a];
    this.heapMeters[a] = this.heapMeters[b];
    this.heapMeters[b] = meter;
  }

  private siftUp(index: number): void {
    let child = index;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (this.heapTimes[parent] <= this.heapTimes[child]) return;
      this.swap(parent, child);
      child = parent;
    }
  }

  private siftDown(index: number): void {
    const size = this.heapTimes.length;
    let parent = index;
    while (true) {
      const left = 2 * parent + 1;
      if (left >= size) return;
      const right = left + 1;
      const smaller = right < size && this.heapTimes[right] < this.heapTimes[left] ? right : left;
      if (this.heapTimes[parent] <= this.heapTimes[smaller]) return;
      this.swap(parent, smaller);
      parent = smaller;
    }
  }
}
