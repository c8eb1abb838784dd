import { scopeToSocieties, type Principal } from '@hes/auth';
import type { MeterStatus } from '@hes/storage';
import type { Pool } from 'pg';

/** A registered meter with its group, placement, key record (never the key) and last sighting. */
export interface MeterRecord {
  meterId: string;
  manufacturer: string;
  deviceType: number;
  version: number;
  driver: string | null;
  groupId: number;
  groupName: string;
  status: MeterStatus;
  installedAt: Date | null;
  location: string | null;
  notes: string | null;
  societyId: string | null;
  towerId: string | null;
  flatId: string | null;
  createdAt: Date;
  updatedAt: Date;
  /** The meter's history floor (meters.history_from): what it reported before is not shown. Never returned. */
  historyFrom: Date | null;
  lastSeenAt: Date | null;
  lastRssiDbm: number | null;
  lastSource: string | null;
  lastGatewayId: string | null;
  statusFlags: string[] | null;
  keyFingerprint: string | null;
  keyVersion: number | null;
  keySetAt: Date | null;
}

export interface MeterFilter {
  societyId?: string;
  towerId?: string;
  flatId?: string;
  groupId?: number;
  status?: MeterStatus;
  manufacturer?: string;
  /** Meters whose last sighting is before this time, or that were never heard. */
  notHeardSince?: Date;
  /** Upper-case hex prefix of the meter id. */
  idPrefix?: string;
}

/** The registry columns a create or an update writes; undefined leaves a column as it is (or at its default). */
export interface MeterFields {
  manufacturer?: string;
  deviceType?: number;
  version?: number;
  driver?: string | null;
  groupId?: number;
  status?: MeterStatus;
  installedAt?: Date | null;
  location?: string | null;
  notes?: string | null;
  societyId?: string | null;
  flatId?: string | null;
}

export interface NewMeter extends MeterFields {
  meterId: string;
  manufacturer: string;
  deviceType: number;
  version: number;
}

/** Column of each writable field; the keys of MeterFields are the only names ever put into SQL. */
const COLUMNS: Readonly<Record<keyof MeterFields, string>> = {
  manufacturer: 'manufacturer',
  deviceType: 'device_type',
  version: 'version',
  driver: 'driver',
  groupId: 'group_id',
  status: 'status',
  installedAt: 'installed_at',
  location: 'location',
  notes: 'notes',
  societyId: 'society_id',
  flatId: 'flat_id',
};

const METER_COLUMNS = `m.meter_id AS "meterId", m.manufacturer, m.device_type AS "deviceType", m.version, m.driver,
  m.group_id AS "groupId", g.name AS "groupName", m.status, m.installed_at AS "installedAt", m.location, m.notes,
  m.society_id AS "societyId", f.tower_id AS "towerId", m.flat_id AS "flatId", m.created_at AS "createdAt",
  m.updated_at AS "updatedAt", m.history_from AS "historyFrom", s.last_seen_at AS "lastSeenAt", s.last_rssi_dbm AS "lastRssiDbm",
  s.last_source AS "lastSource", s.last_gateway_id AS "lastGatewayId", s.status_flags AS "statusFlags",
  k.fingerprint AS "keyFingerprint", k.version AS "keyVersion", k.set_at AS "keySetAt"`;

/**
 * Whether a time column belongs to the current owner's part of the history of meter m (meters.history_from):
 * true from the floor on, and always for a meter without a floor or no registered meter (LEFT JOIN).
 */
export const FROM_HISTORY_FLOOR = (column: string) =>
  `(m.history_from IS NULL OR ${column} >= m.history_from)`;

/**
 * A meter's last sighting (meter_status s of meter m) is shown only when it is at or after the meter's history
 * floor: an older one was made while the meter id belonged to someone else, and the meter counts as not heard.
 */
export const LAST_SIGHTING_VISIBLE = FROM_HISTORY_FLOOR('s.last_seen_at');

const METER_FROM = `FROM meters m
  JOIN meter_groups g ON g.id = m.group_id
  LEFT JOIN flats f ON f.id = m.flat_id
  LEFT JOIN meter_status s ON s.meter_id = m.meter_id AND ${LAST_SIGHTING_VISIBLE}
  LEFT JOIN meter_keys k ON k.meter_id = m.meter_id`;

/** Anything that runs a query: the pool, or a client inside a transaction. */
export type Queryable = Pick<Pool, 'query'>;

/**
 * The meter registry as the API sees it. Every read takes the principal and is scoped with scopeToSocieties, so a
 * meter of another tenant is not found; writes take meter ids the caller has already resolved through such a read.
 */
export class MetersRepository {
  constructor(private readonly pool: Pool) {}

  /** One page in meter id order (the primary key: stable while meters are added or removed between pages). */
  async list(
    principal: Principal,
    filter: MeterFilter,
    page: { limit: number; afterMeterId?: string },
  ): Promise<MeterRecord[]> {
    const params: unknown[] = [];
    const where: string[] = [];
    const add = (condition: (param: string) => string, value: unknown) => {
      params.push(value);
      where.push(condition(`$${params.length}`));
    };
    const scope = scopeToSocieties(principal, 'm.society_id', params.length + 1);
    where.push(scope.sql);
    params.push(...scope.params);
    if (filter.societyId !== undefined) add((p) => `m.society_id = ${p}`, filter.societyId);
    if (filter.towerId !== undefined) add((p) => `f.tower_id = ${p}`, filter.towerId);
    if (filter.flatId !== undefined) add((p) => `m.flat_id = ${p}`, filter.flatId);
    if (filter.groupId !== undefined) add((p) => `m.group_id = ${p}`, filter.groupId);
    if (filter.status !== undefined) add((p) => `m.status = ${p}`, filter.status);
    if (filter.manufacturer !== undefined) add((p) => `m.manufacturer = ${p}`, filter.manufacturer);
    if (filter.notHeardSince !== undefined)
      add((p) => `(s.last_seen_at IS NULL OR s.last_seen_at < ${p})`, filter.notHeardSince);
    // The prefix is hex digits only (validated), so it carries no LIKE wildcards.
    if (filter.idPrefix !== undefined) add((p) => `m.meter_id LIKE ${p}`, `${filter.idPrefix}%`);
    if (page.afterMeterId !== undefined) add((p) => `m.meter_id > ${p}`, page.afterMeterId);
    params.push(page.limit);
    const result = await this.pool.query<MeterRecord>(
      `SELECT ${METER_COLUMNS} ${METER_FROM} WHERE ${where.join(' AND ')}
       ORDER BY m.meter_id LIMIT $${params.length}`,
      params,
    );
    return result.rows;
  }

  async find(
    principal: Principal,
    meterId: string,
    db: Queryable = this.pool,
  ): Promise<MeterRecord | undefined> {
    const scope = scopeToSocieties(principal, 'm.society_id', 2);
    const result = await db.query<MeterRecord>(
      `SELECT ${METER_COLUMNS} ${METER_FROM} WHERE m.meter_id = $1 AND ${scope.sql}`,
      [meterId, ...scope.params],
    );
    return result.rows[0];
  }

  /** Whether a meter id is registered at all, in any tenant (ids are global: a radio meter exists once). */
  async exists(meterId: string, db: Queryable = this.pool): Promise<boolean> {
    const result = await db.query('SELECT 1 FROM meters WHERE meter_id = $1', [meterId]);
    return result.rowCount === 1;
  }

  /**
   * Inserts a meter; false when the id is already registered. A registered meter is no longer an unknown one, so
   * its entry in unknown_meters goes in the same statement.
   */
  async create(meter: NewMeter, db: Queryable = this.pool): Promise<boolean> {
    const fields = definedFields(meter);
    const columns = ['meter_id', ...fields.map(([field]) => COLUMNS[field])];
    const values = [meter.meterId, ...fields.map(([, value]) => value)];
    const result = await db.query<{ created: number }>(
      `WITH created AS (
         INSERT INTO meters (${columns.join(', ')}) VALUES (${values.map((_, i) => `$${i + 1}`).join(', ')})
         ON CONFLICT (meter_id) DO NOTHING RETURNING meter_id),
       forgotten AS (DELETE FROM unknown_meters WHERE meter_id IN (SELECT meter_id FROM created))
       SELECT count(*)::int AS created FROM created`,
      values,
    );
    return result.rows[0].created === 1;
  }

  /** Changes the given fields of a meter; fields left undefined keep their value. */
  async update(meterId: string, changes: MeterFields, db: Queryable = this.pool): Promise<void> {
    const fields = definedFields(changes);
    if (fields.length === 0) return;
    const assignments = fields.map(([field], i) => `${COLUMNS[field]} = $${i + 2}`);
    await db.query(`UPDATE meters SET ${assignments.join(', ')}, updated_at = now() WHERE meter_id = $1`, [
      meterId,
      ...fields.map(([, value]) => value),
    ]);
  }

  /** Deletes a meter and its key (the key row cascades); its readings stay as history. */
  async remove(meterId: string): Promise<boolean> {
    const result = await this.pool.query('DELETE FROM meters WHERE meter_id = $1', [meterId]);
    return result.rowCount === 1;
  }
}

function definedFields(fields: MeterFields): [keyof MeterFields, unknown][] {
  return (Object.keys(COLUMNS) as (keyof MeterFields)[])
    .filter((field) => fields[field] !== undefined)
    .map((field) => [field, fields[field]]);
}
