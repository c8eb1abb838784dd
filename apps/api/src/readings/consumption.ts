import type { ReadingsRepository, Series } from './readings.repository';
import type { SeriesHealthRepository } from './series-health.repository';

/**
 * Why a consumption figure needs a second look:
 * - no_readings: the meter has no reading of the register at all (nothing before, in or after the period);
 * - start_after_period_start / end_after_period_end: no reading at or before that boundary, so the first one
 *   after it stands in for the register there;
 * - gap: the meter was silent for longer than the gap threshold somewhere in the period;
 * - reset: the register went down (meter reset or replaced), or the delta is negative.
 */
export type ConsumptionFlag =
  'no_readings' | 'start_after_period_start' | 'end_after_period_end' | 'gap' | 'reset';

export interface RegisterValue {
  /** The reading's time, UTC ISO 8601. */
  ts: string;
  value: number;
  /** true when no reading existed at or before the boundary and this is the first one after it. */
  afterBoundary: boolean;
}

export interface TargetValue {
  quantity: string;
  storage: number;
  unit: string;
  value: number;
  /** When the meter last reported its due-date register in the period (UTC ISO 8601). */
  ts: string;
}

export interface MeterConsumption {
  meterId: string;
  quantity: string;
  unit: string | null;
  start: RegisterValue | null;
  end: RegisterValue | null;
  /** end.value - start.value, in `unit`; null when either is missing. */
  delta: number | null;
  gapCount: number;
  /** Longest silence overlapping the period, hours (0 without readings). */
  longestGapHours: number;
  /** Where the first gap longer than the threshold begins (the last reading before it). */
  firstGapFrom: string | null;
  /** Decreases of the register seen in the period (resets, replacements, rollbacks). */
  decreases: number;
  target: TargetValue | null;
  flags: ConsumptionFlag[];
}

export interface ConsumptionPeriod {
  fromMs: number;
  toMs: number;
  quantity: string;
  /** Silence longer than this many hours is a gap. */
  gapHours: number;
  /** Time the period is evaluated at: silence after it is not counted (an open period ends now). */
  nowMs: number;
}

/**
 * The due-date register: the meter's own billing-date reading. Both the kamwater and the generic drivers store it
 * as `target_m3` at M-Bus storage 1. The due date itself is a date record, which the pipeline does not store as a
 * reading, so the answer carries the register's value and when the meter reported it.
 */
export const TARGET_SERIES: Series = { quantity: 'target_m3', storage: 1, tariff: 0 };

interface Register {
  tsUs: number;
  value: number;
  unit: string;
  after: boolean;
}

const US_PER_MS = 1000;
/** Meters per gap/decrease query; chunks run concurrently on the pool's connections. */
const HEALTH_CHUNK = 2500;
const US_PER_HOUR = 3_600_000_000;

const isoOfUs = (us: number) => new Date(Math.floor(us / US_PER_MS)).toISOString();

/**
 * Billing-period consumption of many meters at once, from a fixed number of set-based queries whatever the
 * meter count: boundary registers from the 30-minute rollups (raw readings only for meters whose boundary falls
 * inside a bucket with readings on both sides), gaps and decreases from the day summaries of the period's whole
 * summarised days and the rollups of the rest (SeriesHealthRepository).
 */
export class ConsumptionCalculator {
  constructor(
    private readonly readings: ReadingsRepository,
    private readonly health: SeriesHealthRepository,
  ) {}

  async ofMeters(meterIds: readonly string[], period: ConsumptionPeriod): Promise<MeterConsumption[]> {
    if (meterIds.length === 0) return [];
    const series: Series = { quantity: period.quantity, storage: 0, tariff: 0 };
    const fromUs = period.fromMs * US_PER_MS;
    const toUs = period.toMs * US_PER_MS;
    // Silence is measured up to min(to, now): an open period does not end in a gap.
    const observedUntilUs = Math.min(toUs, period.nowMs * US_PER_MS);
    const gapUs = period.gapHours * US_PER_HOUR;
    const [starts, ends, targets, health] = await Promise.all([
      this.registersAt(meterIds, series, fromUs),
      this.registersAt(meterIds, series, toUs),
      this.registersAt(meterIds, TARGET_SERIES, toUs),
      this.healthOf(meterIds, series, fromUs, observedUntilUs, gapUs),
    ]);

    return meterIds.map((meterId) => {
      const start = starts.get(meterId);
      const end = ends.get(meterId);
      const target = targets.get(meterId);
      const flags: ConsumptionFlag[] = [];
      if (!start && !end) flags.push('no_readings');
      if (start?.after) flags.push('start_after_period_start');
      if (end?.after) flags.push('end_after_period_end');

      const seen = health.get(meterId);
      let gapCount = seen?.gapCount ?? 0;
      let longestGapUs = seen?.longestGapUs ?? 0;
      let firstGapFromUs = seen?.firstGapStartUs ?? null;
      let decreases = seen?.decreases ?? 0;
      const silences: [fromUs: number, lengthUs: number][] = [];
      if (start?.after) silences.push([fromUs, start.tsUs - fromUs]);
      // The rollups looked at begin with the bucket of `from`; an older start register joins them here.
      if (start && !start.after && seen && seen.headUs > start.tsUs) {
        silences.push([start.tsUs, seen.headUs - start.tsUs]);
        if (seen.headValue < start.value) decreases++;
      }
      if (end && !end.after) silences.push([end.tsUs, observedUntilUs - end.tsUs]);
      for (const [silenceFromUs, lengthUs] of silences) {
        longestGapUs = Math.max(longestGapUs, lengthUs);
        if (lengthUs > gapUs) {
          gapCount++;
          if (firstGapFromUs === null || silenceFromUs < firstGapFromUs) firstGapFromUs = silenceFromUs;
        }
      }
      if (gapCount > 0) flags.push('gap');
      // Rounded to 9 decimals so binary floating point noise (0.30000000000000004) never reaches a bill.
      const delta = start && end ? Number((end.value - start.value).toFixed(9)) : null;
      if (decreases > 0 || (delta !== null && delta < 0)) flags.push('reset');

      return {
        meterId,
        quantity: period.quantity,
        unit: end?.unit ?? start?.unit ?? null,
        start: start ? registerValue(start) : null,
        end: end ? registerValue(end) : null,
        delta,
        gapCount,
        longestGapHours: longestGapUs / US_PER_HOUR,
        firstGapFrom: firstGapFromUs === null ? null : isoOfUs(firstGapFromUs),
        decreases,
        target:
          target && !target.after && target.tsUs >= fromUs
            ? {
                quantity: TARGET_SERIES.quantity,
                storage: TARGET_SERIES.storage,
                unit: target.unit,
                value: target.value,
                ts: isoOfUs(target.tsUs),
              }
            : null,
        flags,
      };
    });
  }

  /** Gaps and decreases per meter, in concurrent chunks: the per-meter scans are independent. */
  private async healthOf(
    meterIds: readonly string[],
    series: Series,
    fromUs: number,
    toUs: number,
    gapUs: number,
  ) {
    const days = await this.health.summarisedDays(fromUs, toUs);
    const chunks: (readonly string[])[] = [];
    for (let i = 0; i < meterIds.length; i += HEALTH_CHUNK) chunks.push(meterIds.slice(i, i + HEALTH_CHUNK));
    const results = await Promise.all(
      chunks.map((chunk) => this.health.seriesHealth(chunk, series, toUs, gapUs, days)),
    );
    return new Map(results.flat().map((row) => [row.meterId, row]));
  }

  /**
   * The register of each meter at `atUs`: its last reading at or before it, else its first reading after it
   * (after: true). Meters with no reading of the series at all are absent from the result.
   */
  private async registersAt(meterIds: readonly string[], series: Series, atUs: number) {
    const registers = new Map<string, Register>();
    const edges = await this.readings.bucketsAtOrBefore(meterIds, series, atUs);
    const byMeter = new Map<string, typeof edges>();
    for (const edge of edges) {
      const list = byMeter.get(edge.meterId);
      if (list) list.push(edge);
      else byMeter.set(edge.meterId, [edge]);
    }
    const refine: { meterId: string; lowerUs: number }[] = [];
    const nothingBefore: string[] = [];
    for (const meterId of meterIds) {
      const [newest, previous] = byMeter.get(meterId) ?? [];
      if (!newest) nothingBefore.push(meterId);
      else if (newest.lastUs <= atUs) {
        registers.set(meterId, {
          tsUs: newest.lastUs,
          value: newest.lastValue,
          unit: newest.unit,
          after: false,
        });
      } else if (newest.firstUs > atUs) {
        // The bucket holding the boundary only has readings after it: the register is the bucket before's last.
        registers.set(
          meterId,
          previous
            ? { tsUs: previous.lastUs, value: previous.lastValue, unit: previous.unit, after: false }
            : { tsUs: newest.firstUs, value: newest.firstValue, unit: newest.unit, after: true },
        );
      } else {
        refine.push({ meterId, lowerUs: newest.firstUs });
      }
    }
    const [refined, firstAfter] = await Promise.all([
      this.readings.lastReadingBetween(
        refine.map((r) => r.meterId),
        refine.map((r) => r.lowerUs),
        series,
        atUs,
      ),
      this.readings.firstBucketAfter(nothingBefore, series, atUs),
    ]);
    for (const point of refined) {
      registers.set(point.meterId, { tsUs: point.tsUs, value: point.value, unit: point.unit, after: false });
    }
    for (const edge of firstAfter) {
      registers.set(edge.meterId, {
        tsUs: edge.firstUs,
        value: edge.firstValue,
        unit: edge.unit,
        after: true,
      });
    }
    return registers;
  }
}

function registerValue(register: Register): RegisterValue {
  return { ts: isoOfUs(register.tsUs), value: register.value, afterBoundary: register.after };
}
