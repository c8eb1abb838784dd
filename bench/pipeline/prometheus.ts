/** One sample of the Prometheus text exposition format: `name{label="value",...} value`. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses the text format (comments and blank lines skipped); throws on a line that is neither. */
export function parsePrometheusText(text: string): PromSample[] {
  const samples: PromSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE_LINE.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(LABEL)) {
      labels[label[1]] = label[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: match[1], labels, value: parseSampleValue(match[3]) });
  }
  return samples;
}

function parseSampleValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  // prom-client prints NaN as "Nan" (e.g. an empty histogram's derived gauge); the format says "NaN".
  if (text.toLowerCase() === 'nan') return NaN;
  const value = Number(text);
  if (Number.isNaN(value)) throw new Error(`not a sample value: ${text}`);
  return value;
}

/** Sum of the samples of one metric whose labels include every given label (across processes, too). */
export function sumSamples(samples: PromSample[], name: string, where: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(where).every(([key, value]) => s.labels[key] === value)) sum += s.value;
  }
  return sum;
}

/** Cumulative bucket counts of a histogram (summed over processes), sorted by upper bound. */
export interface HistogramBuckets {
  /** Upper bounds (`le`), the last one +Inf. */
  bounds: number[];
  /** Observations <= each bound. */
  cumulative: number[];
}

export function histogramBuckets(
  samples: PromSample[],
  name: string,
  where: Record<string, string> = {},
): HistogramBuckets {
  const byBound = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || s.labels.le === undefined) continue;
    if (!Object.entries(where).every(([key, value]) => s.labels[key] === value)) continue;
    const bound = parseSampleValue(s.labels.le);
    byBound.set(bound, (byBound.get(bound) ?? 0) + s.value);
  }
  const bounds = [...byBound.keys()].sort((a, b) => a - b);
  return { bounds, cumulative: bounds.map((bound) => byBound.get(bound) ?? 0) };
}

/**
 * The bucket upper bound at or below which the q-quantile of the observations lies: an upper bound of the
 * true quantile, as precise as the buckets (no interpolation, so it never understates a latency). Infinity
 * when the quantile falls in the +Inf bucket; NaN without observations.
 */
export function histogramQuantileUpperBound(buckets: HistogramBuckets, q: number): number {
  const total = buckets.cumulative[buckets.cumulative.length - 1] ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  const index = buckets.cumulative.findIndex((count) => count >= rank);
  return buckets.bounds[index];
}
