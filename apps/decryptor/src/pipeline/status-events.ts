import type { EventKind } from '@hes/storage';

/** Event kinds raised and cleared by a meter's status flags. */
export type StatusEventKind = Extract<
  EventKind,
  'leak' | 'burst' | 'dry' | 'reverse' | 'tamper' | 'low_battery'
>;

export const STATUS_EVENT_KINDS: readonly StatusEventKind[] = [
  'leak',
  'burst',
  'dry',
  'reverse',
  'tamper',
  'low_battery',
];

/** Driver status tokens (wmbusmeters names) that mean an alarm state. */
const TOKEN_KINDS: ReadonlyMap<string, StatusEventKind> = new Map([
  ['LEAK', 'leak'],
  ['BURST', 'burst'],
  ['DRY', 'dry'],
  ['REVERSE', 'reverse'],
  ['TAMPER', 'tamper'],
  ['LOW_BATTERY', 'low_battery'],
  ['POWER_LOW', 'low_battery'],
]);

export function activeKinds(status: string): Set<StatusEventKind> {
  const kinds = new Set<StatusEventKind>();
  for (const token of status.split(' ')) {
    const kind = TOKEN_KINDS.get(token);
    if (kind) kinds.add(kind);
  }
  return kinds;
}

export interface StatusTransition {
  meterId: string;
  kind: StatusEventKind | 'first_seen';
  /** Receive time of the telegram that showed the change: the event's natural key with meter and kind. */
  ts: number;
  details: Record<string, unknown>;
}

/** What storage knows about a meter: whether it was ever seen, and each flag's last raised/cleared event. */
export interface MeterStatusState {
  seen: boolean;
  active: Set<StatusEventKind>;
  /** Receive time of the newest telegram (or stored event) the state reflects; -Infinity when none. */
  asOf: number;
}

/**
 * Turns per-telegram status strings into events on transitions only: a flag that appears is `raised`, one
 * that disappears is `cleared`, and the first telegram ever decoded from a meter gives `first_seen`.
 *
 * Telegrams are applied in partition order, which is per-meter order. A telegram older than the state
 * (a handheld uploading last week's walk-by after newer gateway data) is stored but does not move the
 * state: transitions are about the meter's present, and replaying the past would raise stale alarms.
 * State for a meter not held in memory comes from storage (`prime`), so a restart or a partition moving to
 * another consumer continues where the events table left off, and replays hit the events' natural key.
 */
export class StatusEventTracker {
  private readonly states = new Map<string, MeterStatusState>();

  constructor(private readonly maxMeters = 2_000_000) {}

  /** Meters of `meterIds` whose state must be loaded from storage before `observe`. */
  unknown(meterIds: Iterable<string>): string[] {
    const missing = new Set<string>();
    for (const meterId of meterIds) if (!this.states.has(meterId)) missing.add(meterId);
    return [...missing];
  }

  prime(meterId: string, state: MeterStatusState): void {
    if (this.states.size >= this.maxMeters && !this.states.has(meterId)) {
      const oldest = this.states.keys().next().value as string;
      this.states.delete(oldest);
    }
    this.states.set(meterId, state);
  }

  /**
   * Applies one decoded telegram and returns the events it raises. The state is updated at once (later
   * telegrams of the same batch build on it); `forget` undoes that if the batch cannot be stored.
   */
  observe(meterId: string, ts: number, status: string): StatusTransition[] {
    const state = this.states.get(meterId);
    if (!state) throw new Error(`status state of meter ${meterId} was not primed`);
    const events: StatusTransition[] = [];
    if (!state.seen) {
      events.push({ meterId, kind: 'first_seen', ts, details: { status } });
      state.seen = true;
    }
    if (ts < state.asOf) return events;
    const now = activeKinds(status);
    for (const kind of now) {
      if (!state.active.has(kind)) events.push({ meterId, kind, ts, details: { state: 'raised', status } });
    }
    for (const kind of state.active) {
      if (!now.has(kind)) events.push({ meterId, kind, ts, details: { state: 'cleared', status } });
    }
    state.active = now;
    state.asOf = ts;
    return events;
  }

  /** Drops meters' state so it is read from storage again (a failed batch, or a rebalance). */
  forget(meterIds?: Iterable<string>): void {
    if (!meterIds) {
      this.states.clear();
      return;
    }
    for (const meterId of meterIds) this.states.delete(meterId);
  }
}
