import { ConflictException, ServiceUnavailableException } from '@nestjs/common';
import { AuditLog, notFound, type AuditEntry } from '@hes/auth';
import type { MeterKeyCipher } from '@hes/keys';
import { UNKNOWN_METER_COLUMNS, type UnknownMeter } from '@hes/storage';
import type { Pool } from 'pg';
import { MetersRepository } from './meters.repository';

export interface UnknownMeterRegistration {
  meterId: string;
  societyId: string;
  flatId?: string;
  groupId?: number;
  driver?: string;
  /** The meter's AES-128 key; wiped once encrypted. */
  key?: Buffer;
}

/**
 * Meters heard on air but not registered (the decryptor records them), and their registration. They belong to no
 * tenant yet, so only platform admins see or register them; the controller enforces that.
 */
export class UnknownMeters {
  private readonly meters: MetersRepository;

  constructor(
    private readonly pool: Pool,
    private readonly cipher: MeterKeyCipher | undefined,
  ) {
    this.meters = new MetersRepository(pool);
  }

  /** One page in meter id order (stable: a meter heard again does not move). */
  async list(page: {
    limit: number;
    afterMeterId?: string;
    minHeardCount?: number;
  }): Promise<UnknownMeter[]> {
    const result = await this.pool.query<UnknownMeter>(
      `SELECT ${UNKNOWN_METER_COLUMNS} FROM unknown_meters
       WHERE ($1::text IS NULL OR meter_id > $1) AND heard_count >= $2
       ORDER BY meter_id LIMIT $3`,
      [page.afterMeterId ?? null, page.minHeardCount ?? 1, page.limit],
    );
    return result.rows;
  }

  /**
   * Registers a heard meter with the manufacturer, device type and version it was heard with, optionally stores
   * its key encrypted (the decryptors reload it on the meter_keys trigger's NOTIFY), removes it from the unknown
   * meters and writes the audit entry: all in one transaction, so a failure leaves it unknown and unregistered.
   */
  async register(registration: UnknownMeterRegistration, audit: Omit<AuditEntry, 'action'>): Promise<void> {
    if (registration.key && !this.cipher) {
      registration.key.fill(0);
      throw new ServiceUnavailableException(
        'meter key management is not configured on this server (HES_MASTER_KEY is not set)',
      );
    }
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const heard = await client.query<UnknownMeter>(
        `SELECT ${UNKNOWN_METER_COLUMNS} FROM unknown_meters WHERE meter_id = $1 FOR UPDATE`,
        [registration.meterId],
      );
      const sighting = heard.rows[0];
      if (!sighting) throw notFound('unknown meter');
      const society = await client.query('SELECT 1 FROM societies WHERE id = $1', [registration.societyId]);
      if (society.rowCount !== 1) throw notFound('society');
      if (registration.flatId !== undefined) {
        const flat = await client.query('SELECT 1 FROM flats WHERE id = $1 AND society_id = $2', [
          registration.flatId,
          registration.societyId,
        ]);
        if (flat.rowCount !== 1) throw notFound('flat');
      }
      if (registration.groupId !== undefined) {
        const group = await client.query('SELECT 1 FROM meter_groups WHERE id = $1', [registration.groupId]);
        if (group.rowCount !== 1) throw notFound('meter group');
      }
      const created = await this.meters.create(
        {
          meterId: sighting.meterId,
          manufacturer: sighting.manufacturer,
          deviceType: sighting.deviceType,
          version: sighting.version,
          driver: registration.driver,
          groupId: registration.groupId,
          societyId: registration.societyId,
          flatId: registration.flatId,
        },
        client,
      );
      if (!created) throw new ConflictException('meter id is already registered');
      let fingerprint: string | undefined;
      if (registration.key && this.cipher) {
        const encrypted = this.cipher.encrypt(sighting.meterId, registration.key);
        fingerprint = encrypted.fingerprint;
        await client.query(
          'INSERT INTO meter_keys (meter_id, ciphertext, iv, tag, fingerprint) VALUES ($1, $2, $3, $4, $5)',
          [sighting.meterId, encrypted.ciphertext, encrypted.iv, encrypted.tag, encrypted.fingerprint],
        );
      }
      await new AuditLog(client).write({
        ...audit,
        action: 'unknown_meter.register',
        details: {
          ...audit.details,
          heardCount: sighting.heardCount,
          ...(fingerprint ? { keyFingerprint: fingerprint } : {}),
        },
      });
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      registration.key?.fill(0);
      client.release();
    }
  }
}
