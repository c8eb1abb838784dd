/** Nearest-rank percentile (q in 0..1) of the values; sorts a copy. NaN for no values. */
export function percentile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1];
}

/** Growable array of numbers without boxing (latency samples run into the millions). */
export class NumberSeries {
  private data = new Float64Array(1024);
  private size = 0;

  push(value: number): void {
    if (this.size === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.size++] = value;
  }

  get length(): number {
    return this.size;
  }

  values(): Float64Array {
    return this.data.subarray(0, this.size);
  }
}

/**
 * Rates per window from a cumulative counter sampled over time: [(t0,c0),(t1,c1),...] → one rate per
 * `windowSeconds` of samples (the last partial window dropped).
 */
export function windowRates(points: Array<{ atMs: number; count: number }>, windowSeconds: number): number[] {
  const rates: number[] = [];
  if (points.length < 2) return rates;
  let start = points[0];
  for (const point of points) {
    const seconds = (point.atMs - start.atMs) / 1000;
    if (seconds >= windowSeconds) {
      rates.push((point.count - start.count) / seconds);
      start = point;
    }
  }
  return rates;
}
