import type { Pool, QueryResultRow } from 'pg';
import { latestValueOfRow, type StoredValueRow } from '../readings/latest-readings';
import { FROM_HISTORY_FLOOR } from '../meters/meters.repository';
import type { LiveEvent, LiveReading } from './live-protocol';

/** A meter's place as the live gateway routes by it. */
export interface MeterPlacement {
  meterId: string;
  societyId: string | null;
  groupId: number;
  /** The meter's history floor (meters.history_from) in epoch ms: nothing older is delivered. null: none. */
  historyFromMs: number | null;
}

export interface Backfill<T> {
  items: T[];
  /** More rows matched than the limit allowed; the oldest `limit` are in `items`. */
  truncated: boolean;
}

interface PlacementRow {
  meter_id: string;
  society_id: string | null;
  group_id: number;
  history_from: Date | null;
}

interface EventRow {
  meter_id: string;
  kind: string;
  ts_ms: string;
  details: Record<string, unknown>;
}

/** The database reads of the live gateway: where meters are (refreshed), and stored readings/events for `since`. */
export class LiveRepository {
  constructor(private readonly pool: Pool) {}

  async placementsOfMeters(meterIds: readonly string[]): Promise<MeterPlacement[]> {
    return this.placements('meter_id = ANY($1::text[])', [meterIds]);
  }

  async placementsInSocieties(societyIds: readonly string[]): Promise<MeterPlacement[]> {
    return this.placements('society_id = ANY($1::uuid[])', [societyIds]);
  }

  async placementsInGroups(groupIds: readonly number[]): Promise<MeterPlacement[]> {
    return this.placements('group_id = ANY($1::int[])', [groupIds]);
  }

  async societyExists(societyId: string): Promise<boolean> {
    const result = await this.pool.query('SELECT 1 FROM societies WHERE id = $1', [societyId]);
    return result.rowCount === 1;
  }

  async groupExists(groupId: number): Promise<boolean> {
    const result = await this.pool.query('SELECT 1 FROM meter_groups WHERE id = $1', [groupId]);
    return result.rowCount === 1;
  }

  /**
   * Readings stored with ts after `since` and at or after their meter's history floor, oldest first (ts, then
   * the series key), at most `limit`.
   */
  async readingsSince(
    meterIds: readonly string[],
    since: Date,
    limit: number,
  ): Promise<Backfill<LiveReading>> {
    return this.backfill<StoredValueRow, LiveReading>(
      `SELECT r.meter_id, quantity, storage, tariff, unit, value, (extract(epoch FROM ts) * 1000)::bigint AS ts_ms
       FROM readings r LEFT JOIN meters m ON m.meter_id = r.meter_id
       WHERE r.meter_id = ANY($1::text[]) AND ts > $2 AND ${FROM_HISTORY_FLOOR('ts')}
       ORDER BY ts, r.meter_id, quantity, storage, tariff
       LIMIT $3`,
      meterIds,
      since,
      limit,
      (row) => ({ meterId: row.meter_id, ...latestValueOfRow(row) }),
    );
  }

  /** Events with ts after `since` and at or after their meter's history floor, oldest first, at most `limit`. */
  async eventsSince(meterIds: readonly string[], since: Date, limit: number): Promise<Backfill<LiveEvent>> {
    return this.backfill<EventRow, LiveEvent>(
      `SELECT e.meter_id, kind, (extract(epoch FROM ts) * 1000)::bigint AS ts_ms, details
       FROM events e LEFT JOIN meters m ON m.meter_id = e.meter_id
       WHERE e.meter_id = ANY($1::text[]) AND ts > $2 AND ${FROM_HISTORY_FLOOR('ts')}
       ORDER BY ts, id
       LIMIT $3`,
      meterIds,
      since,
      limit,
      (row) => ({
        meterId: row.meter_id,
        kind: row.kind,
        ts: new Date(Number(row.ts_ms)).toISOString(),
        details: row.details,
      }),
    );
  }

  /** Runs a since-query ($1 meter ids, $2 since, $3 limit) for one row more than `limit`, to tell truncation. */
  private async backfill<Row extends QueryResultRow, Item>(
    sql: string,
    meterIds: readonly string[],
    since: Date,
    limit: number,
    toItem: (row: Row) => Item,
  ): Promise<Backfill<Item>> {
    const result = await this.pool.query<Row>(sql, [meterIds, since, limit + 1]);
    return {
      truncated: result.rows.length > limit,
      items: result.rows.slice(0, limit).map(toItem),
    };
  }

  private async placements(condition: string, params: unknown[]): Promise<MeterPlacement[]> {
    const result = await this.pool.query<PlacementRow>(
      `SELECT meter_id, society_id, group_id, history_from FROM meters WHERE ${condition}`,
      params,
    );
    return result.rows.map((row) => ({
      meterId: row.meter_id,
      societyId: row.society_id,
      groupId: row.group_id,
      historyFromMs: row.history_from?.getTime() ?? null,
    }));
  }
}
