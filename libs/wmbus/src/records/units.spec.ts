import { convertUnit } from './units';

describe('convertUnit', () => {
  it.each([
    [1, 'kwh', 'mj', 3.6],
    [3.6, 'mj', 'kwh', 1],
    [1, 'gj', 'mj', 1000],
    [1000, 'kwh', 'gj', 3.6],
    [1500, 'wh', 'kwh', 1.5],
    [1.7, 'kwh', 'mj', 6.12],
    [6408, 'l', 'm3', 6.408],
    [6.408, 'm3', 'l', 6408],
    [123, 'lh', 'm3h', 0.123],
    [2.5, 'kw', 'w', 2500],
    [3.6, 'mjh', 'kw', 1],
    [90, 'min', 'h', 1.5],
    [2, 'd', 'h', 48],
    [1, 'bar', 'pa', 100000],
    [0, 'c', 'k', 273.15],
    [212, 'f', 'c', 100],
    [21.5, 'C', 'F', 70.7],
    [5, 'm3', 'm3', 5],
  ])('%p %s → %p %s', (value, from, to, expected) => {
    expect(convertUnit(value, from, to)).toBe(expected);
  });

  it('is undefined across dimensions or for unknown units', () => {
    expect(convertUnit(1, 'kwh', 'm3')).toBeUndefined();
    expect(convertUnit(1, 'c', 'kwh')).toBeUndefined();
    expect(convertUnit(1, 'furlong', 'm3')).toBeUndefined();
  });
});
