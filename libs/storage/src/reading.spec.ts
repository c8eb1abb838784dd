import { Reading, compareNaturalKey, utcDaysOf, validateReading } from './reading';

const valid: Reading = {
  meterId: '1234abcd',
  ts: new Date('2026-03-01T23:59:59Z'),
  quantity: 'volume',
  storage: 0,
  tariff: 0,
  unit: 'm3',
  value: 12.5,
  source: 'gateway',
};

describe('validateReading', () => {
  it('accepts a complete reading', () => {
    expect(validateReading(valid)).toBeUndefined();
  });

  it.each([
    [{ meterId: '1234abc' }, 'meterId'],
    [{ ts: new Date('not a date') }, 'ts'],
    [{ quantity: '' }, 'quantity'],
    [{ storage: -1 }, 'storage'],
    [{ tariff: 1.5 }, 'tariff'],
    [{ value: Number.POSITIVE_INFINITY }, 'value'],
    [{ source: '' }, 'source'],
    [{ quality: 40_000 }, 'quality'],
  ])('names the bad field of %p', (change, field) => {
    expect(validateReading({ ...valid, ...change } as Reading)?.field).toBe(field);
  });
});

describe('natural key order and partition days', () => {
  it('orders by meter, quantity, storage, tariff, then time', () => {
    const later = { ...valid, ts: new Date(valid.ts.getTime() + 1) };
    const storage1 = { ...valid, storage: 1 };
    const other = { ...valid, meterId: '00000001' };
    expect([later, storage1, valid, other].sort(compareNaturalKey)).toEqual([other, valid, later, storage1]);
  });

  it('lists the distinct UTC days of a batch', () => {
    expect(utcDaysOf([valid.ts, new Date('2026-03-02T00:00:00Z'), valid.ts])).toEqual([
      '2026-03-01',
      '2026-03-02',
    ]);
  });
});
