import type { Pool, PoolClient } from 'pg';
import type { EncryptedMeterKeyRecord } from '@hes/keys';

const METER_ID = /^[0-9A-Fa-f]{8}$/;

function normaliseMeterId(meterId: string): string {
  if (!METER_ID.test(meterId))
    throw new Error(`meterId must be 8 hex digits, got ${JSON.stringify(meterId)}`);
  return meterId.toUpperCase();
}

export type MeterStatus = 'active' | 'inactive' | 'removed';

export interface MeterRegistration {
  meterId: string;
  manufacturer: string;
  deviceType: number;
  version: number;
  driver?: string;
  groupId?: number;
  status?: MeterStatus;
  installedAt?: Date;
  location?: string;
  notes?: string;
}

export interface Meter extends Required<
  Pick<MeterRegistration, 'meterId' | 'manufacturer' | 'deviceType' | 'version'>
> {
  driver: string | null;
  groupId: number;
  status: MeterStatus;
  installedAt: Date | null;
  location: string | null;
  notes: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface MeterGroup {
  id: number;
  name: string;
  description: string | null;
}

/** The group every meter starts in (created by the registry migration). */
export const DEFAULT_METER_GROUP_ID = 1;

const METER_SELECT = `SELECT meter_id AS "meterId", manufacturer, device_type AS "deviceType", version, driver,
  group_id AS "groupId", status, installed_at AS "installedAt", location, notes, created_at AS "createdAt",
  updated_at AS "updatedAt" FROM meters`;

export class MeterRepository {
  constructor(private readonly pool: Pool) {}

  /** Registers a meter or updates its registration (the meter id is the identity). */
  async register(meter: MeterRegistration): Promise<Meter> {
    const result = await this.pool.query<Meter>(
      `INSERT INTO meters AS m (meter_id, manufacturer, device_type, version, driver, group_id, status, installed_at,
                                location, notes)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (meter_id) DO UPDATE SET manufacturer = EXCLUDED.manufacturer, device_type = EXCLUDED.device_type,
         version = EXCLUDED.version, driver = EXCLUDED.driver, group_id = EXCLUDED.group_id, status = EXCLUDED.status,
         installed_at = EXCLUDED.installed_at, location = EXCLUDED.location, notes = EXCLUDED.notes, updated_at = now()
       RETURNING meter_id AS "meterId", manufacturer, device_type AS "deviceType", version, driver, group_id AS "groupId",
         status, installed_at AS "installedAt", location, notes, created_at AS "createdAt", updated_at AS "updatedAt"`,
      [
        normaliseMeterId(meter.meterId),
        meter.manufacturer.toUpperCase(),
        meter.deviceType,
        meter.version,
        meter.driver ?? null,
        meter.groupId ?? DEFAULT_METER_GROUP_ID,
        meter.status ?? 'active',
        meter.installedAt ?? null,
        meter.location ?? null,
        meter.notes ?? null,
      ],
    );
    return result.rows[0];
  }

  async get(meterId: string): Promise<Meter | undefined> {
    const result = await this.pool.query<Meter>(`${METER_SELECT} WHERE meter_id = $1`, [
      normaliseMeterId(meterId),
    ]);
    return result.rows[0];
  }

  async findByIds(meterIds: readonly string[]): Promise<Meter[]> {
    const result = await this.pool.query<Meter>(
      `${METER_SELECT} WHERE meter_id = ANY($1::text[]) ORDER BY meter_id`,
      [meterIds.map(normaliseMeterId)],
    );
    return result.rows;
  }

  /**
   * Group of each given meter id, for the collector's partitioner; one round trip for a whole batch.
   * Unregistered meters are absent from the map (the caller decides their partition).
   */
  async groupsOf(meterIds: readonly string[]): Promise<Map<string, number>> {
    const result = await this.pool.query<{ meter_id: string; group_id: number }>(
      'SELECT meter_id, group_id FROM meters WHERE meter_id = ANY($1::text[])',
      [[...new Set(meterIds.map(normaliseMeterId))]],
    );
    return new Map(result.rows.map((row) => [row.meter_id, row.group_id]));
  }

  async createGroup(name: string, description?: string): Promise<MeterGroup> {
    const result = await this.pool.query<MeterGroup>(
      'INSERT INTO meter_groups (name, description) VALUES ($1, $2) RETURNING id, name, description',
      [name, description ?? null],
    );
    return result.rows[0];
  }

  async listGroups(): Promise<MeterGroup[]> {
    return (await this.pool.query<MeterGroup>('SELECT id, name, description FROM meter_groups ORDER BY id'))
      .rows;
  }
}

export interface UnknownMeterSighting {
  meterId: string;
  manufacturer: string;
  deviceType: number;
  version: number;
  heardAt: Date;
  source: string;
  gatewayId?: string;
  rssiDbm?: number;
}

export interface UnknownMeter {
  meterId: string;
  manufacturer: string;
  deviceType: number;
  version: number;
  firstHeardAt: Date;
  lastHeardAt: Date;
  heardCount: number;
  lastSource: string;
  lastGatewayId: string | null;
  lastRssiDbm: number | null;
}

/** The columns of unknown_meters as an UnknownMeter. */
export const UNKNOWN_METER_COLUMNS = `meter_id AS "meterId", manufacturer, device_type AS "deviceType", version,
  first_heard_at AS "firstHeardAt", last_heard_at AS "lastHeardAt", heard_count::float8 AS "heardCount",
  last_source AS "lastSource", last_gateway_id AS "lastGatewayId", last_rssi_dbm AS "lastRssiDbm"`;

/** Meters heard on air but not registered: an upsert per sighting with a counter, for commissioning. */
export class UnknownMeterRepository {
  constructor(private readonly pool: Pool) {}

  /** Records a sighting; returns how many times the meter has been heard. Late sightings never move last_* back. */
  async record(sighting: UnknownMeterSighting): Promise<number> {
    const result = await this.pool.query<{ heard_count: number }>(
      `INSERT INTO unknown_meters AS u (meter_id, manufacturer, device_type, version, first_heard_at, last_heard_at,
                                        heard_count, last_source, last_gateway_id, last_rssi_dbm)
       VALUES ($1, $2, $3, $4, $5, $5, 1, $6, $7, $8)
       ON CONFLICT (meter_id) DO UPDATE SET
         heard_count = u.heard_count + 1,
         first_heard_at = LEAST(u.first_heard_at, EXCLUDED.first_heard_at),
         manufacturer = CASE WHEN EXCLUDED.last_heard_at >= u.last_heard_at THEN EXCLUDED.manufacturer ELSE u.manufacturer END,
         device_type = CASE WHEN EXCLUDED.last_heard_at >= u.last_heard_at THEN EXCLUDED.device_type ELSE u.device_type END,
         version = CASE WHEN EXCLUDED.last_heard_at >= u.last_heard_at THEN EXCLUDED.version ELSE u.version END,
         last_source = CASE WHEN EXCLUDED.last_heard_at >= u.last_heard_at THEN EXCLUDED.last_source ELSE u.last_source END,
         last_gateway_id = CASE WHEN EXCLUDED.last_heard_at >= u.last_heard_at THEN EXCLUDED.last_gateway_id
                                ELSE u.last_gateway_id END,
         last_rssi_dbm = CASE WHEN EXCLUDED.last_heard_at >= u.last_heard_at THEN EXCLUDED.last_rssi_dbm
                              ELSE u.last_rssi_dbm END,
         last_heard_at = GREATEST(u.last_heard_at, EXCLUDED.last_heard_at)
       RETURNING heard_count::float8 AS heard_count`,
      [
        normaliseMeterId(sighting.meterId),
        sighting.manufacturer,
        sighting.deviceType,
        sighting.version,
        sighting.heardAt,
        sighting.source,
        sighting.gatewayId ?? null,
        sighting.rssiDbm ?? null,
      ],
    );
    return result.rows[0].heard_count;
  }

  async list(limit = 1000): Promise<UnknownMeter[]> {
    const result = await this.pool.query<UnknownMeter>(
      `SELECT ${UNKNOWN_METER_COLUMNS} FROM unknown_meters ORDER BY last_heard_at DESC LIMIT $1`,
      [limit],
    );
    return result.rows;
  }

  async count(): Promise<number> {
    return (await this.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM unknown_meters')).rows[0].n;
  }

  /** Removes the entry once the meter is registered. */
  async forget(meterId: string): Promise<void> {
    await this.pool.query('DELETE FROM unknown_meters WHERE meter_id = $1', [normaliseMeterId(meterId)]);
  }
}

export interface CompactFormat {
  manufacturer: string;
  deviceType: number;
  /** The 16-bit format signature the compact frame carries. */
  signature: number;
  /** The DIF/VIF header bytes of the full frame the format was learned from. */
  format: Buffer;
  learnedAt: Date;
}

/** Compact-frame formats learned from full frames, shared by all decryptors. */
export class CompactFormatRepository {
  constructor(private readonly pool: Pool) {}

  async loadAll(): Promise<CompactFormat[]> {
    const result = await this.pool.query<CompactFormat>(
      `SELECT manufacturer, device_type AS "deviceType", signature, format, learned_at AS "learnedAt"
       FROM compact_formats ORDER BY manufacturer, device_type, signature`,
    );
    return result.rows;
  }

  /** Saves a newly learned format; returns false when it was already known (first writer wins). */
  async save(format: Omit<CompactFormat, 'learnedAt'>): Promise<boolean> {
    const result = await this.pool.query(
      `INSERT INTO compact_formats (manufacturer, device_type, signature, format) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING`,
      [format.manufacturer, format.deviceType, format.signature, format.format],
    );
    return result.rowCount === 1;
  }
}

export interface StoredMeterKey extends EncryptedMeterKeyRecord {
  version: number;
}

/** Notification channel the meter_keys trigger signals on; the payload is the changed meter's id. */
export const METER_KEYS_CHANNEL = 'meter_keys_changed';

const METER_KEY_SELECT = `SELECT meter_id AS "meterId", ciphertext, iv, tag, fingerprint, set_at AS "setAt", version
  FROM meter_keys`;

/**
 * Encrypted meter key records (ciphertext, IV, tag, fingerprint; the cipher lives in @hes/keys).
 * Implements @hes/keys' MeterKeySource; `listen` lets decryptors refresh their cache on change.
 */
export class MeterKeyRepository {
  constructor(private readonly pool: Pool) {}

  /** Stores or rotates a meter's key; the version increases by one on every rotation. */
  async store(
    meterId: string,
    key: Omit<EncryptedMeterKeyRecord, 'meterId' | 'setAt'>,
  ): Promise<StoredMeterKey> {
    const result = await this.pool.query<StoredMeterKey>(
      `INSERT INTO meter_keys AS k (meter_id, ciphertext, iv, tag, fingerprint) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (meter_id) DO UPDATE SET ciphertext = EXCLUDED.ciphertext, iv = EXCLUDED.iv, tag = EXCLUDED.tag,
         fingerprint = EXCLUDED.fingerprint, version = k.version + 1, set_at = clock_timestamp()
       RETURNING meter_id AS "meterId", ciphertext, iv, tag, fingerprint, set_at AS "setAt", version`,
      [normaliseMeterId(meterId), key.ciphertext, key.iv, key.tag, key.fingerprint],
    );
    return result.rows[0];
  }

  /**
   * Stores or rotates many meters' keys in one statement (bulk imports), with the same version rule as `store`.
   * `db` may be a client inside a transaction, so the keys commit together with what the caller writes alongside.
   * Meter ids must be distinct. Returns the stored records in no particular order.
   */
  async storeMany(
    keys: ReadonlyArray<{ meterId: string } & Omit<EncryptedMeterKeyRecord, 'meterId' | 'setAt'>>,
    db: Pick<Pool, 'query'> = this.pool,
  ): Promise<StoredMeterKey[]> {
    if (keys.length === 0) return [];
    const result = await db.query<StoredMeterKey>(
      `INSERT INTO meter_keys AS k (meter_id, ciphertext, iv, tag, fingerprint)
       SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::bytea[], $5::text[])
       ON CONFLICT (meter_id) DO UPDATE SET ciphertext = EXCLUDED.ciphertext, iv = EXCLUDED.iv, tag = EXCLUDED.tag,
         fingerprint = EXCLUDED.fingerprint, version = k.version + 1, set_at = clock_timestamp()
       RETURNING meter_id AS "meterId", ciphertext, iv, tag, fingerprint, set_at AS "setAt", version`,
      [
        keys.map((key) => normaliseMeterId(key.meterId)),
        keys.map((key) => key.ciphertext),
        keys.map((key) => key.iv),
        keys.map((key) => key.tag),
        keys.map((key) => key.fingerprint),
      ],
    );
    return result.rows;
  }

  async load(meterId: string): Promise<StoredMeterKey | undefined> {
    return (
      await this.pool.query<StoredMeterKey>(`${METER_KEY_SELECT} WHERE meter_id = $1`, [
        normaliseMeterId(meterId),
      ])
    ).rows[0];
  }

  async loadAll(): Promise<StoredMeterKey[]> {
    return (await this.pool.query<StoredMeterKey>(`${METER_KEY_SELECT} ORDER BY meter_id`)).rows;
  }

  /** Records set at or after `since` (inclusive, so records written in the same millisecond are not missed). */
  async loadChangedSince(since: Date): Promise<StoredMeterKey[]> {
    return (
      await this.pool.query<StoredMeterKey>(`${METER_KEY_SELECT} WHERE set_at >= $1 ORDER BY set_at`, [since])
    ).rows;
  }

  async remove(meterId: string): Promise<boolean> {
    const result = await this.pool.query('DELETE FROM meter_keys WHERE meter_id = $1', [
      normaliseMeterId(meterId),
    ]);
    return result.rowCount === 1;
  }

  /**
   * Calls `onChange(meterId)` whenever a key is stored, rotated or removed, on a dedicated connection held until
   * the returned function is called. Pair with polling via loadChangedSince: notifications are lost while the
   * connection is down. `onError` is told when that connection fails (database restart, network): the listener
   * is then dead and the caller listens again once the database is back. Without it a failed connection would
   * be an unhandled 'error' event, which ends the process.
   */
  async listen(
    onChange: (meterId: string) => void,
    onError: (error: Error) => void = () => undefined,
  ): Promise<() => Promise<void>> {
    const client: PoolClient = await this.pool.connect();
    let failure: Error | undefined;
    let released = false;
    const handler = (message: { channel: string; payload?: string }) => {
      if (message.channel === METER_KEYS_CHANNEL && message.payload) onChange(message.payload);
    };
    const errorHandler = (error: Error) => {
      if (released || failure) return;
      failure = error;
      onError(error);
    };
    client.on('notification', handler);
    client.on('error', errorHandler);
    await client.query(`LISTEN ${METER_KEYS_CHANNEL}`);
    return async () => {
      client.off('notification', handler);
      try {
        if (!failure) await client.query(`UNLISTEN ${METER_KEYS_CHANNEL}`);
      } finally {
        released = true;
        // A failed connection is destroyed rather than returned to the pool.
        client.release(failure);
      }
    };
  }
}

export interface Gateway {
  id: string;
  name: string;
  apiKeyHash: string;
  createdAt: Date;
  revokedAt: Date | null;
}

const GATEWAY_SELECT = `SELECT id, name, api_key_hash AS "apiKeyHash", created_at AS "createdAt", revoked_at AS "revokedAt"
  FROM gateways`;

/** Gateways and the hash of their API key (the key itself is never stored). */
export class GatewayRepository {
  constructor(private readonly pool: Pool) {}

  async create(gateway: { id: string; name: string; apiKeyHash: string }): Promise<Gateway> {
    const result = await this.pool.query<Gateway>(
      `INSERT INTO gateways (id, name, api_key_hash) VALUES ($1, $2, $3)
       RETURNING id, name, api_key_hash AS "apiKeyHash", created_at AS "createdAt", revoked_at AS "revokedAt"`,
      [gateway.id, gateway.name, gateway.apiKeyHash],
    );
    return result.rows[0];
  }

  async get(id: string): Promise<Gateway | undefined> {
    return (await this.pool.query<Gateway>(`${GATEWAY_SELECT} WHERE id = $1`, [id])).rows[0];
  }

  /** The active (not revoked) gateway whose key hashes to `apiKeyHash`, for authenticating uploads. */
  async findActiveByKeyHash(apiKeyHash: string): Promise<Gateway | undefined> {
    return (
      await this.pool.query<Gateway>(`${GATEWAY_SELECT} WHERE api_key_hash = $1 AND revoked_at IS NULL`, [
        apiKeyHash,
      ])
    ).rows[0];
  }

  async list(): Promise<Gateway[]> {
    return (await this.pool.query<Gateway>(`${GATEWAY_SELECT} ORDER BY id`)).rows;
  }

  /** Revokes a gateway's key; returns false if it was unknown or already revoked. */
  async revoke(id: string): Promise<boolean> {
    const result = await this.pool.query(
      'UPDATE gateways SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL',
      [id],
    );
    return result.rowCount === 1;
  }
}

export interface HandheldUpload<Result = unknown> {
  uploadId: string;
  receivedAt: Date;
  itemCount: number;
  result: Result;
}

/** Results of handheld uploads by upload id, so a retried upload gets the first answer instead of being re-applied. */
export class HandheldUploadRepository {
  constructor(private readonly pool: Pool) {}

  /**
   * Records the outcome of an upload. If the id was already recorded (a concurrent or earlier retry), the earlier
   * record is returned unchanged and `created` is false.
   */
  async record<Result>(
    uploadId: string,
    itemCount: number,
    result: Result,
  ): Promise<{ created: boolean; upload: HandheldUpload<Result> }> {
    const inserted = await this.pool.query<HandheldUpload<Result>>(
      `INSERT INTO handheld_uploads (upload_id, item_count, result) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING
       RETURNING upload_id AS "uploadId", received_at AS "receivedAt", item_count AS "itemCount", result`,
      [uploadId, itemCount, JSON.stringify(result)],
    );
    if (inserted.rows[0]) return { created: true, upload: inserted.rows[0] };
    const existing = await this.find<Result>(uploadId);
    if (!existing) throw new Error(`handheld upload ${uploadId} conflicted but cannot be read back`);
    return { created: false, upload: existing };
  }

  async find<Result>(uploadId: string): Promise<HandheldUpload<Result> | undefined> {
    const result = await this.pool.query<HandheldUpload<Result>>(
      `SELECT upload_id AS "uploadId", received_at AS "receivedAt", item_count AS "itemCount", result
       FROM handheld_uploads WHERE upload_id = $1`,
      [uploadId],
    );
    return result.rows[0];
  }
}
