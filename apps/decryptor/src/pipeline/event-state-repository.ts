import type { Pool } from 'pg';
import { MeterStatusState, STATUS_EVENT_KINDS, StatusEventKind } from './status-events';

/**
 * Reads the status-event state of meters from the events table (written by @hes/storage's EventWriter):
 * the newest event per meter and kind, served by the table's unique (meter_id, kind, ts) index.
 */
export class EventStateRepository {
  constructor(private readonly pool: Pool) {}

  async load(meterIds: readonly string[]): Promise<Map<string, MeterStatusState>> {
    const states = new Map<string, MeterStatusState>();
    for (const meterId of meterIds) states.set(meterId, { seen: false, active: new Set(), asOf: -Infinity });
    if (meterIds.length === 0) return states;
    const result = await this.pool.query<{
      meter_id: string;
      kind: string;
      ts_ms: number;
      state: string | null;
    }>(
      `SELECT DISTINCT ON (meter_id, kind) meter_id, kind, (extract(epoch FROM ts) * 1000)::float8 AS ts_ms,
              details->>'state' AS state
       FROM events
       WHERE meter_id = ANY($1::text[]) AND kind = ANY($2::text[])
       ORDER BY meter_id, kind, ts DESC`,
      [meterIds.map((id) => id.toUpperCase()), ['first_seen', ...STATUS_EVENT_KINDS]],
    );
    const byUpper = new Map(meterIds.map((id) => [id.toUpperCase(), id]));
    for (const row of result.rows) {
      const state = states.get(byUpper.get(row.meter_id) ?? row.meter_id);
      if (!state) continue;
      state.seen = true;
      // The newest event of any kind bounds what the meter's present is known to be: telegrams older than
      // that are history and must not raise or clear alarms.
      state.asOf = Math.max(state.asOf, row.ts_ms);
      if (row.kind !== 'first_seen' && row.state === 'raised') state.active.add(row.kind as StatusEventKind);
    }
    return states;
  }
}
