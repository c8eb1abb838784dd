import { NumberSeries, percentile, windowRates } from './stats';

describe('percentile (nearest rank)', () => {
  it('picks the value at ceil(q * n) of the sorted values', () => {
    const values = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(values, 0.5)).toBe(5);
    expect(percentile(values, 0.95)).toBe(10);
    expect(percentile(values, 0.1)).toBe(1);
    expect(percentile(values, 0)).toBe(1);
    expect(percentile([], 0.5)).toBeNaN();
  });

  it('does not reorder the input', () => {
    const values = [3, 1, 2];
    percentile(values, 0.5);
    expect(values).toEqual([3, 1, 2]);
  });
});

describe('NumberSeries', () => {
  it('grows past its initial capacity and keeps every value in order', () => {
    const series = new NumberSeries();
    for (let i = 0; i < 5000; i++) series.push(i * 2);
    expect(series.length).toBe(5000);
    expect(series.values()[0]).toBe(0);
    expect(series.values()[4999]).toBe(9998);
  });
});

describe('windowRates', () => {
  it('gives the counter rate per window and drops the last partial window', () => {
    const points = [0, 1, 2, 3, 4, 5, 6, 7].map((s) => ({
      atMs: s * 1000,
      count: s < 4 ? s * 100 : 400 + (s - 4) * 50,
    }));
    expect(windowRates(points, 2)).toEqual([100, 100, 50]);
    expect(windowRates(points.slice(0, 1), 2)).toEqual([]);
  });
});
