import { StatusEventTracker, activeKinds } from './status-events';

const fresh = () => ({ seen: false, active: new Set<never>(), asOf: -Infinity });

describe('activeKinds', () => {
  it('maps driver status tokens to event kinds and ignores the rest', () => {
    expect([...activeKinds('BURST LEAK POWER_LOW UNKNOWN_20')].sort()).toEqual([
      'burst',
      'leak',
      'low_battery',
    ]);
    expect(activeKinds('OK').size).toBe(0);
  });
});

describe('StatusEventTracker', () => {
  it('raises first_seen once and alarms only on transitions', () => {
    const tracker = new StatusEventTracker();
    tracker.prime('A', fresh());
    const kinds = (ts: number, status: string) =>
      tracker.observe('A', ts, status).map((e) => `${e.kind}:${(e.details.state as string) ?? '-'}`);
    expect(kinds(1000, 'OK')).toEqual(['first_seen:-']);
    expect(kinds(2000, 'LEAK')).toEqual(['leak:raised']);
    expect(kinds(3000, 'LEAK')).toEqual([]);
    expect(kinds(4000, 'BURST LEAK')).toEqual(['burst:raised']);
    expect(kinds(5000, 'OK')).toEqual(['burst:cleared', 'leak:cleared']);
  });

  it('does not let a back-dated telegram move the state', () => {
    const tracker = new StatusEventTracker();
    tracker.prime('A', { seen: true, active: new Set(['leak']), asOf: 10_000 });
    expect(tracker.observe('A', 5_000, 'OK')).toEqual([]);
    expect(tracker.observe('A', 11_000, 'LEAK')).toEqual([]);
    expect(tracker.observe('A', 12_000, 'OK').map((e) => e.kind)).toEqual(['leak']);
  });

  it('asks for state it does not hold and refuses to observe an unprimed meter', () => {
    const tracker = new StatusEventTracker();
    tracker.prime('A', fresh());
    expect(tracker.unknown(['A', 'B', 'B'])).toEqual(['B']);
    expect(() => tracker.observe('B', 1, 'OK')).toThrow('not primed');
    tracker.forget(['A']);
    expect(tracker.unknown(['A'])).toEqual(['A']);
  });
});
