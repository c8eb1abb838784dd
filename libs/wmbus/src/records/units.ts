/**
 * Unit conversion between the unit tokens used in records and wmbusmeters field names. Every unit of a
 * dimension is expressed as a factor to that dimension's base unit; temperatures are affine and handled
 * apart. Not on the per-record hot path (records are already in wmbusmeters' preferred unit).
 */
interface LinearUnit {
  dimension: string;
  /** Value of one unit in the dimension's base unit. */
  toBase: number;
}

const LINEAR_UNITS: Record<string, LinearUnit> = {
  // energy, base J
  wh: { dimension: 'energy', toBase: 3.6e3 },
  kwh: { dimension: 'energy', toBase: 3.6e6 },
  mwh: { dimension: 'energy', toBase: 3.6e9 },
  j: { dimension: 'energy', toBase: 1 },
  kj: { dimension: 'energy', toBase: 1e3 },
  mj: { dimension: 'energy', toBase: 1e6 },
  gj: { dimension: 'energy', toBase: 1e9 },
  // volume, base litre
  l: { dimension: 'volume', toBase: 1 },
  m3: { dimension: 'volume', toBase: 1e3 },
  // volume flow, base l/h
  lh: { dimension: 'volume_flow', toBase: 1 },
  m3h: { dimension: 'volume_flow', toBase: 1e3 },
  m3min: { dimension: 'volume_flow', toBase: 6e4 },
  m3s: { dimension: 'volume_flow', toBase: 3.6e6 },
  // power, base W
  w: { dimension: 'power', toBase: 1 },
  kw: { dimension: 'power', toBase: 1e3 },
  mw: { dimension: 'power', toBase: 1e6 },
  mjh: { dimension: 'power', toBase: 1e6 / 3600 },
  gjh: { dimension: 'power', toBase: 1e9 / 3600 },
  // mass, base kg
  g: { dimension: 'mass', toBase: 1e-3 },
  kg: { dimension: 'mass', toBase: 1 },
  t: { dimension: 'mass', toBase: 1e3 },
  // mass flow, base kg/h
  kgh: { dimension: 'mass_flow', toBase: 1 },
  th: { dimension: 'mass_flow', toBase: 1e3 },
  // time, base s
  s: { dimension: 'time', toBase: 1 },
  min: { dimension: 'time', toBase: 60 },
  h: { dimension: 'time', toBase: 3600 },
  d: { dimension: 'time', toBase: 86400 },
  // pressure, base Pa
  pa: { dimension: 'pressure', toBase: 1 },
  hpa: { dimension: 'pressure', toBase: 100 },
  kpa: { dimension: 'pressure', toBase: 1e3 },
  bar: { dimension: 'pressure', toBase: 1e5 },
  // electrical
  v: { dimension: 'voltage', toBase: 1 },
  kv: { dimension: 'voltage', toBase: 1e3 },
  a: { dimension: 'current', toBase: 1 },
  ma: { dimension: 'current', toBase: 1e-3 },
};

/** Absolute temperatures: value in the unit → °C. */
const TEMPERATURE_TO_C: Record<string, (v: number) => number> = {
  c: (v) => v,
  k: (v) => v - 273.15,
  f: (v) => ((v - 32) * 5) / 9,
};
const TEMPERATURE_FROM_C: Record<string, (v: number) => number> = {
  c: (v) => v,
  k: (v) => v + 273.15,
  f: (v) => (v * 9) / 5 + 32,
};

/** Removes binary float noise from a converted value (3.6 × 1.7 → 6.12, not 6.120000000000001). */
function clean(value: number): number {
  return Number(value.toPrecision(15));
}

/**
 * Converts `value` between unit tokens (case-insensitive: "kWh", "kwh"). Returns undefined when either
 * unit is unknown or the two measure different things. Temperatures are absolute (°C ↔ K ↔ °F).
 */
export function convertUnit(value: number, from: string, to: string): number | undefined {
  const source = from.toLowerCase();
  const target = to.toLowerCase();
  if (source === target) return value;
  const linearSource = LINEAR_UNITS[source];
  const linearTarget = LINEAR_UNITS[target];
  if (linearSource !== undefined && linearTarget !== undefined) {
    if (linearSource.dimension !== linearTarget.dimension) return undefined;
    return clean((value * linearSource.toBase) / linearTarget.toBase);
  }
  const toC = TEMPERATURE_TO_C[source];
  const fromC = TEMPERATURE_FROM_C[target];
  if (toC !== undefined && fromC !== undefined) return clean(fromC(toC(value)));
  return undefined;
}
