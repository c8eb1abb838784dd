import type { SimulatedMeter } from './fleet';
import { SeededRandom } from './random';

/** Kamstrup info-code states (record 02FF20 bits 0-3), in bit order. */
export type AlarmKind = 'DRY' | 'REVERSE' | 'LEAK' | 'BURST';

const ALARM_BIT: Record<AlarmKind, number> = { DRY: 0, REVERSE: 1, LEAK: 2, BURST: 3 };
/** Each state's 3-bit history group ("time_dry", ...) starts at this bit. */
const HISTORY_SHIFT: Record<AlarmKind, number> = { DRY: 4, REVERSE: 7, LEAK: 10, BURST: 13 };
/** Upper bounds (hours) of history duration indexes 1..6; longer is index 7 ("22-31 days"). */
const HISTORY_HOURS = [8, 24, 72, 168, 336, 504];

/**
 * Chance that a meter without an alarm starts one at a given transmission: with 16 s cycles about one
 * episode per meter per 9 hours of simulated time, frequent enough to see alarms in a short run.
 */
const ALARM_START_PROBABILITY = 5e-4;
/** Which alarm an episode is: mostly leaks (a dripping tap), rarely bursts. */
const ALARM_WEIGHTS: ReadonlyArray<[AlarmKind, number]> = [
  ['LEAK', 0.6],
  ['DRY', 0.15],
  ['REVERSE', 0.15],
  ['BURST', 0.1],
];
const ALARM_MIN_TRANSMISSIONS = 4;
const ALARM_MAX_TRANSMISSIONS = 60;
const LEAK_LITRES_PER_HOUR = 6;
const BURST_LITRES_PER_HOUR = 400;
const CONSUMPTION_NOISE_SIGMA = 0.4;
const TEMPERATURE_STEP_PROBABILITY = 0.05;

/**
 * Hour-of-day consumption weights (UTC hours, mean 1): a night trough, a morning peak around 07-08 and an
 * evening peak around 19-20, the usual residential water profile.
 */
const DIURNAL_WEIGHTS: readonly number[] = (() => {
  const raw = [
    0.2, 0.15, 0.1, 0.1, 0.15, 0.4, 1.2, 2.2, 2.0, 1.4, 1.0, 0.9, 1.0, 0.9, 0.8, 0.8, 0.9, 1.2, 1.7, 2.0, 1.8,
    1.3, 0.8, 0.4,
  ];
  const mean = raw.reduce((sum, weight) => sum + weight, 0) / raw.length;
  return raw.map((weight) => weight / mean);
})();

const MS_PER_HOUR = 3_600_000;
const MS_PER_DAY = 86_400_000;

export interface ActiveAlarm {
  kind: AlarmKind;
  since: number;
  until: number;
}

/** What a meter knows at its latest transmission. Volumes are litres (the register's resolution). */
export interface MeterState {
  /** Transmissions made so far. */
  transmissions: number;
  /** Simulated time (ms since epoch) of the latest transmission, or of the start before the first one. */
  time: number;
  /** Register volume in litres, fractional: the encoded value is its floor, so it never goes back. */
  litres: number;
  /** Volume at the latest due date (the first of the month), whole litres. */
  targetLitres: number;
  /** The latest due date, YYYY-MM-DD. */
  targetDate: string;
  /** When the next due date starts (ms), so the month is not recomputed at every transmission. */
  nextDueTime: number;
  flowTemperatureC: number;
  externalTemperatureC: number;
  alarm: ActiveAlarm | undefined;
  /** History bits of the info code (bits 4-15): how long each alarm state lasted last time. */
  history: number;
  /**
   * Start of the ELL session counter: the simulation's start in seconds, so that a second run of the same
   * seed sends different bytes (the collector would otherwise drop its telegrams as duplicates).
   */
  readonly sessionBase: number;
  readonly random: SeededRandom;
}

/** The due date `time` falls after (the first of its month, UTC) and when the next one starts. */
function dueDateOf(time: number): { date: string; time: number; next: number } {
  const d = new Date(time);
  const first = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const next = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return { date: new Date(first).toISOString().slice(0, 10), time: first, next };
}

export function initialMeterState(meter: SimulatedMeter, startTime: number): MeterState {
  const random = new SeededRandom(meter.seed);
  const due = dueDateOf(startTime);
  const sinceDue = ((startTime - due.time) / MS_PER_DAY) * meter.dailyLitres;
  return {
    transmissions: 0,
    time: startTime,
    litres: meter.initialLitres,
    targetLitres: Math.max(0, Math.floor(meter.initialLitres - sinceDue)),
    targetDate: due.date,
    nextDueTime: due.next,
    flowTemperatureC: random.int(6, 14),
    externalTemperatureC: random.int(10, 24),
    alarm: undefined,
    history: 0,
    sessionBase: Math.floor(startTime / 1000),
    random,
  };
}

/** The seconds until the next transmission: the meter's cycle with ±10 % jitter. */
export function nextGapMs(meter: SimulatedMeter, state: MeterState): number {
  const jitter = 1 + (state.random.next() * 2 - 1) * 0.1;
  return meter.model.cycleSeconds * 1000 * jitter;
}

/**
 * Moves the meter to `time` (its next transmission): consumption since the last one following the
 * diurnal profile with noise, alarm episodes starting and clearing, the due-date volume rolling over
 * at a month boundary, temperatures drifting.
 */
export function advanceMeter(meter: SimulatedMeter, state: MeterState, time: number): void {
  const { random } = state;
  const elapsedMs = Math.max(0, time - state.time);
  if (time >= state.nextDueTime) {
    const due = dueDateOf(time);
    state.targetDate = due.date;
    state.nextDueTime = due.next;
    state.targetLitres = Math.floor(state.litres);
  }

  updateAlarm(meter, state, time);
  const alarm = state.alarm?.kind;
  if (alarm !== 'DRY' && alarm !== 'REVERSE') {
    const hour = Math.floor(((state.time + elapsedMs / 2) % MS_PER_DAY) / MS_PER_HOUR);
    const base = (meter.dailyLitres * DIURNAL_WEIGHTS[hour] * elapsedMs) / MS_PER_DAY;
    let litres = base * random.logNormal(1, CONSUMPTION_NOISE_SIGMA);
    if (alarm === 'LEAK') litres += (LEAK_LITRES_PER_HOUR * elapsedMs) / MS_PER_HOUR;
    if (alarm === 'BURST') litres += (BURST_LITRES_PER_HOUR * elapsedMs) / MS_PER_HOUR;
    state.litres += litres;
  }

  if (random.chance(TEMPERATURE_STEP_PROBABILITY)) {
    state.flowTemperatureC = clamp(state.flowTemperatureC + (random.chance(0.5) ? 1 : -1), 2, 25);
  }
  if (random.chance(TEMPERATURE_STEP_PROBABILITY)) {
    state.externalTemperatureC = clamp(state.externalTemperatureC + (random.chance(0.5) ? 1 : -1), -5, 35);
  }
  state.time = time;
  state.transmissions++;
}

function updateAlarm(meter: SimulatedMeter, state: MeterState, time: number): void {
  const { random } = state;
  if (state.alarm) {
    if (time < state.alarm.until) return;
    const hours = (time - state.alarm.since) / MS_PER_HOUR;
    setHistory(state, state.alarm.kind, historyIndex(hours));
    state.alarm = undefined;
    return;
  }
  if (!random.chance(ALARM_START_PROBABILITY)) return;
  let pick = random.next();
  let kind: AlarmKind = 'LEAK';
  for (const [candidate, weight] of ALARM_WEIGHTS) {
    kind = candidate;
    if (pick < weight) break;
    pick -= weight;
  }
  const transmissions = random.int(ALARM_MIN_TRANSMISSIONS, ALARM_MAX_TRANSMISSIONS);
  state.alarm = { kind, since: time, until: time + transmissions * meter.model.cycleSeconds * 1000 };
  setHistory(state, kind, 1);
}

function historyIndex(hours: number): number {
  const index = HISTORY_HOURS.findIndex((limit) => hours <= limit);
  return index < 0 ? 7 : index + 1;
}

function setHistory(state: MeterState, kind: AlarmKind, index: number): void {
  const shift = HISTORY_SHIFT[kind];
  state.history = (state.history & ~(0x7 << shift)) | (index << shift);
}

/** The 02FF20 info code: current alarm bit plus the history groups. */
export function infoCode(state: MeterState): number {
  return state.history | (state.alarm ? 1 << ALARM_BIT[state.alarm.kind] : 0);
}

function clamp(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value;
}
