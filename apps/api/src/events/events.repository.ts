import { scopeToSocieties, type Principal } from '@hes/auth';
import type { Pool } from 'pg';
import { FROM_HISTORY_FLOOR, LAST_SIGHTING_VISIBLE } from '../meters/meters.repository';

/** The kinds the events table accepts (its CHECK constraint), in the order the API documents them. */
export const EVENT_KINDS = [
  'leak',
  'burst',
  'dry',
  'reverse',
  'tamper',
  'low_battery',
  'first_seen',
  'meter_error',
  'key_missing',
  'decryption_failed',
  'clock_drift',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export interface MeterEventRow {
  id: string;
  meterId: string;
  /** The meter's society now; null for meters not registered or not assigned (platform admins only). */
  societyId: string | null;
  ts: Date;
  kind: EventKind;
  details: Record<string, unknown>;
  acknowledgedBy: string | null;
  acknowledgedAt: Date | null;
  acknowledgementNote: string | null;
  createdAt: Date;
  /** ts with microseconds, UTC: JavaScript dates keep milliseconds only, too coarse for a stable cursor. */
  cursorTs: string;
}

export interface EventFilter {
  societyId?: string;
  meterId?: string;
  kind?: EventKind;
  from?: Date;
  to?: Date;
  acknowledged?: boolean;
  /** Continue after this (ts, id), newest first. */
  after?: { ts: string; id: string };
  limit: number;
}

export interface NotHeardMeterRow {
  meterId: string;
  societyId: string;
  lastSeenAt: Date | null;
  lastRssiDbm: number | null;
  lastSource: string | null;
  lastGatewayId: string | null;
  statusFlags: string[];
}

const EVENT = `e.id::text AS id, e.meter_id AS "meterId", m.society_id AS "societyId", e.ts, e.kind, e.details,
  e.acknowledged_by AS "acknowledgedBy", e.acknowledged_at AS "acknowledgedAt",
  e.acknowledgement_note AS "acknowledgementNote", e.created_at AS "createdAt",
  to_char(e.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorTs"`;

/**
 * Events (alarms) and the not-heard report, always scoped to the principal's societies through the meter's
 * society: events carry no society of their own, so an event follows its meter when the meter moves, except
 * that events older than the meter's history floor (raised while the meter id belonged to another society, or
 * before a move) are not shown to anyone through the API.
 * Events of meters that are not registered (or not assigned to a society) are visible to platform admins only.
 */
export class EventsRepository {
  constructor(private readonly pool: Pool) {}

  async list(principal: Principal, filter: EventFilter): Promise<MeterEventRow[]> {
    const params: unknown[] = [];
    const where: string[] = [];
    const add = (value: unknown) => `$${params.push(value)}`;
    const scope = scopeToSocieties(principal, 'm.society_id', params.length + 1);
    where.push(scope.sql);
    params.push(...scope.params);
    if (filter.societyId !== undefined) where.push(`m.society_id = ${add(filter.societyId)}`);
    if (filter.meterId !== undefined) where.push(`e.meter_id = ${add(filter.meterId)}`);
    if (filter.kind !== undefined) where.push(`e.kind = ${add(filter.kind)}`);
    if (filter.from !== undefined) where.push(`e.ts >= ${add(filter.from)}`);
    if (filter.to !== undefined) where.push(`e.ts < ${add(filter.to)}`);
    if (filter.acknowledged !== undefined) {
      where.push(filter.acknowledged ? 'e.acknowledged_at IS NOT NULL' : 'e.acknowledged_at IS NULL');
    }
    if (filter.after !== undefined) {
      where.push(`(e.ts, e.id) < (${add(filter.after.ts)}::timestamptz, ${add(filter.after.id)}::bigint)`);
    }
    const result = await this.pool.query<MeterEventRow>(
      `SELECT ${EVENT} FROM events e LEFT JOIN meters m ON m.meter_id = e.meter_id
       WHERE ${where.join(' AND ')} AND ${FROM_HISTORY_FLOOR('e.ts')} ORDER BY e.ts DESC, e.id DESC LIMIT ${add(filter.limit)}`,
      params,
    );
    return result.rows;
  }

  async find(principal: Principal, id: string): Promise<MeterEventRow | undefined> {
    const scope = scopeToSocieties(principal, 'm.society_id', 2);
    const result = await this.pool.query<MeterEventRow>(
      `SELECT ${EVENT} FROM events e LEFT JOIN meters m ON m.meter_id = e.meter_id
       WHERE e.id = $1 AND ${scope.sql} AND ${FROM_HISTORY_FLOOR('e.ts')}`,
      [id, ...scope.params],
    );
    return result.rows[0];
  }

  /**
   * Acknowledges an event that is not acknowledged yet, in one statement so that of two concurrent
   * acknowledgements exactly one wins; undefined when it was already acknowledged.
   */
  async acknowledge(id: string, by: string, note: string | null): Promise<MeterEventRow | undefined> {
    const result = await this.pool.query<MeterEventRow>(
      `WITH acknowledged AS (
         UPDATE events SET acknowledged_by = $2, acknowledged_at = clock_timestamp(), acknowledgement_note = $3
         WHERE id = $1 AND acknowledged_at IS NULL
         RETURNING *)
       SELECT ${EVENT} FROM acknowledged e LEFT JOIN meters m ON m.meter_id = e.meter_id`,
      [id, by, note],
    );
    return result.rows[0];
  }

  /** Whether a registered meter is in the principal's tenant. */
  async meterVisible(principal: Principal, meterId: string): Promise<boolean> {
    const scope = scopeToSocieties(principal, 'society_id', 2);
    const result = await this.pool.query(`SELECT 1 FROM meters WHERE meter_id = $1 AND ${scope.sql}`, [
      meterId,
      ...scope.params,
    ]);
    return result.rows.length > 0;
  }

  /**
   * Active meters of the principal's societies (or of one of them) not heard since `since`, including meters
   * never heard at all (no meter_status row), by meter id after `afterMeterId`. Meters without a society
   * belong to no tenant and are not reported here.
   */
  async notHeard(
    principal: Principal,
    filter: { since: Date; societyId?: string; afterMeterId?: string; limit: number },
  ): Promise<NotHeardMeterRow[]> {
    const params: unknown[] = [filter.since];
    const add = (value: unknown) => `$${params.push(value)}`;
    const scope = scopeToSocieties(principal, 'm.society_id', params.length + 1);
    params.push(...scope.params);
    const where = [
      scope.sql,
      'm.society_id IS NOT NULL',
      `m.status = 'active'`,
      '(s.meter_id IS NULL OR s.last_seen_at < $1)',
    ];
    if (filter.societyId !== undefined) where.push(`m.society_id = ${add(filter.societyId)}`);
    if (filter.afterMeterId !== undefined) where.push(`m.meter_id > ${add(filter.afterMeterId)}`);
    const result = await this.pool.query<NotHeardMeterRow>(
      `SELECT m.meter_id AS "meterId", m.society_id AS "societyId", s.last_seen_at AS "lastSeenAt",
         s.last_rssi_dbm AS "lastRssiDbm", s.last_source AS "lastSource", s.last_gateway_id AS "lastGatewayId",
         COALESCE(s.status_flags, '{}') AS "statusFlags"
       FROM meters m LEFT JOIN meter_status s ON s.meter_id = m.meter_id AND ${LAST_SIGHTING_VISIBLE}
       WHERE ${where.join(' AND ')} ORDER BY m.meter_id LIMIT ${add(filter.limit)}`,
      params,
    );
    return result.rows;
  }
}
