import { SeededRandom } from './random';

/**
 * The simulated meter types:
 * - 'kamstrup': Kamstrup flowIQ 2101 style cold-water meter (KAM, version 0x1F, device type 0x16),
 *   ELL II with AES-128-CTR, a compact frame (CI 0x79) every ~16 s and a full frame (CI 0x78) every
 *   8th transmission so that a decoder that has never seen the meter learns its compact format;
 * - 'oms': an OMS water meter sending TPL mode 5 (AES-128-CBC) with volume, date-time and due-date
 *   records, less often (every ~2 minutes, as battery-powered OMS meters do).
 */
export type MeterKind = 'kamstrup' | 'oms';

export interface MeterModel {
  readonly kind: MeterKind;
  readonly manufacturer: string;
  readonly version: number;
  readonly deviceType: number;
  /** Nominal seconds between two transmissions; each gap is jittered by ±JITTER_FRACTION. */
  readonly cycleSeconds: number;
}

export const KAMSTRUP_FLOWIQ: MeterModel = {
  kind: 'kamstrup',
  manufacturer: 'KAM',
  version: 0x1f,
  deviceType: 0x16,
  cycleSeconds: 16,
};

/** Apator-style OMS water meter: no dedicated driver in the codec, so it exercises the generic path. */
export const OMS_WATER: MeterModel = {
  kind: 'oms',
  manufacturer: 'APA',
  version: 0x05,
  deviceType: 0x07,
  cycleSeconds: 120,
};

export const JITTER_FRACTION = 0.1;

export interface SimulatedMeter {
  /** Position in the fleet (0-based); stable for a given seed. */
  readonly index: number;
  /** 8 decimal digits, as wM-Bus ids are printed. */
  readonly id: string;
  readonly model: MeterModel;
  /** AES-128 key the meter encrypts with. */
  readonly key: Buffer;
  /** 0-based group number; the group's name is groupName(group). */
  readonly group: number;
  /** Median consumption of this household in litres per day. */
  readonly dailyLitres: number;
  /** Volume on the register when the simulation starts, litres. */
  readonly initialLitres: number;
  /** Seconds after the simulation start of the meter's first transmission (meters are not in phase). */
  readonly phaseSeconds: number;
  /** Seed of the meter's own random stream (consumption noise, alarms, jitter). */
  readonly seed: number;
}

export interface FleetOptions {
  meters: number;
  seed: number;
  /** Number of meter groups the meters are spread over (round robin). */
  groups: number;
  /** Fraction of OMS mode-5 meters; the rest are Kamstrup flowIQ meters. */
  omsFraction: number;
  /** Prefix of the group names (`<prefix>-group-001`). */
  groupPrefix: string;
}

export interface Fleet {
  readonly meters: readonly SimulatedMeter[];
  readonly options: FleetOptions;
  groupName(group: number): string;
}

export const DEFAULT_FLEET_OPTIONS: Omit<FleetOptions, 'meters' | 'seed'> = {
  groups: 16,
  omsFraction: 0.1,
  groupPrefix: 'sim',
};

const MIN_METER_ID = 10_000_000;
const MAX_METER_ID = 99_999_999;
/** Households: median 350 l/day, log-normal spread (single flats ~100, large families ~1,000). */
const MEDIAN_DAILY_LITRES = 350;
const DAILY_LITRES_SIGMA = 0.5;

export function checkFleetOptions(options: FleetOptions): void {
  if (!Number.isInteger(options.meters) || options.meters < 1 || options.meters > 10_000_000) {
    throw new RangeError(`meters must be an integer 1..10000000, got ${options.meters}`);
  }
  if (!Number.isInteger(options.groups) || options.groups < 1 || options.groups > 100_000) {
    throw new RangeError(`groups must be an integer 1..100000, got ${options.groups}`);
  }
  if (!(options.omsFraction >= 0 && options.omsFraction <= 1)) {
    throw new RangeError(`omsFraction must be between 0 and 1, got ${options.omsFraction}`);
  }
  if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed > 0xffffffff) {
    throw new RangeError(`seed must be an integer 0..4294967295, got ${options.seed}`);
  }
  if (!/^[A-Za-z0-9_.-]{1,40}$/.test(options.groupPrefix)) {
    throw new RangeError(`group prefix must be 1-40 of A-Z a-z 0-9 _ . -, got "${options.groupPrefix}"`);
  }
}

/**
 * Builds a fleet deterministically from the seed: the same options give the same ids, keys, groups and
 * consumption profiles. Which meters are OMS is spread evenly (every 1/omsFraction-th meter) so that any
 * prefix of the fleet has the same mix.
 */
/** OMS meters among the first `meters`; the epsilon keeps 0.1 * 10 from landing just below 1. */
function omsCountUpTo(meters: number, fraction: number): number {
  return Math.floor(meters * fraction + 1e-9);
}

export function createFleet(options: FleetOptions): Fleet {
  checkFleetOptions(options);
  const random = new SeededRandom(options.seed);
  const usedIds = new Set<number>();
  const meters: SimulatedMeter[] = [];
  for (let index = 0; index < options.meters; index++) {
    let id: number;
    do id = random.int(MIN_METER_ID, MAX_METER_ID);
    while (usedIds.has(id));
    usedIds.add(id);
    const isOms = omsCountUpTo(index + 1, options.omsFraction) > omsCountUpTo(index, options.omsFraction);
    const model = isOms ? OMS_WATER : KAMSTRUP_FLOWIQ;
    const dailyLitres = random.logNormal(MEDIAN_DAILY_LITRES, DAILY_LITRES_SIGMA);
    meters.push({
      index,
      id: String(id),
      model,
      key: random.bytes(16),
      group: index % options.groups,
      dailyLitres,
      // A few months to several years of use.
      initialLitres: Math.round(dailyLitres * random.between(60, 3000)),
      phaseSeconds: random.between(0, model.cycleSeconds),
      seed: random.uint32(),
    });
  }
  const width = String(options.groups).length < 3 ? 3 : String(options.groups).length;
  return {
    meters,
    options,
    groupName: (group) => `${options.groupPrefix}-group-${String(group + 1).padStart(width, '0')}`,
  };
}
