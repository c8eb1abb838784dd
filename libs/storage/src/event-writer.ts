import type { Pool } from 'pg';

export type EventKind =
  | 'leak'
  | 'burst'
  | 'dry'
  | 'reverse'
  | 'tamper'
  | 'low_battery'
  | 'first_seen'
  | 'meter_error'
  | 'key_missing'
  | 'decryption_failed'
  | 'clock_drift';

export interface MeterEvent {
  meterId: string;
  /** Receive time of the telegram that raised the event (stable across replays). */
  ts: Date;
  kind: EventKind;
  details?: Record<string, unknown>;
}

/**
 * Batched, idempotent event writer: the natural key (meter_id, kind, ts) makes a replayed telegram's event a
 * no-op. Returns how many events were new.
 */
export class EventWriter {
  constructor(private readonly pool: Pool) {}

  async write(events: readonly MeterEvent[]): Promise<{ inserted: number; duplicates: number }> {
    if (events.length === 0) return { inserted: 0, duplicates: 0 };
    const result = await this.pool.query<{ inserted: number }>(
      `WITH inserted AS (
         INSERT INTO events (meter_id, ts, kind, details)
         SELECT upper(meter_id), ts, kind, details
         FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::jsonb[]) AS input(meter_id, ts, kind, details)
         ON CONFLICT (meter_id, kind, ts) DO NOTHING
         RETURNING 1)
       SELECT count(*)::int AS inserted FROM inserted`,
      [
        events.map((event) => event.meterId),
        events.map((event) => event.ts),
        events.map((event) => event.kind),
        events.map((event) => JSON.stringify(event.details ?? {})),
      ],
    );
    const inserted = result.rows[0].inserted;
    return { inserted, duplicates: events.length - inserted };
  }

  /** Marks an event acknowledged by an operator; returns false if it does not exist or was already acknowledged. */
  async acknowledge(id: number, by: string): Promise<boolean> {
    const result = await this.pool.query(
      `UPDATE events SET acknowledged_by = $2, acknowledged_at = now() WHERE id = $1 AND acknowledged_at IS NULL`,
      [id, by],
    );
    return result.rowCount === 1;
  }
}
