import { ServiceUnavailableException } from '@nestjs/common';
import { AuditLog, scopeToSocieties, type AuditEntry, type Principal } from '@hes/auth';
import { MeterKeyCipher, MeterKeyDecryptionError, METER_KEY_BYTES } from '@hes/keys';
import { inTransaction, MeterKeyRepository } from '@hes/storage';
import type { Pool } from 'pg';

/** What the API tells about a stored key: never the key itself. */
export interface MeterKeyInfo {
  fingerprint: string;
  version: number;
  setAt: Date;
}

/** A meter of the caller's tenant as the key endpoints and the decrypt service see it. */
export interface TenantMeter {
  meterId: string;
  societyId: string | null;
}

export interface TenantKeys {
  keys: Map<string, Buffer>;
  unreadable: Set<string>;
}

const KEY_HEX = /^[0-9A-Fa-f]{32}$/;

/** A meter key given as 32 hex digits, as bytes; undefined when it is not one. */
export function parseMeterKeyHex(value: string): Buffer | undefined {
  const trimmed = value.trim();
  return KEY_HEX.test(trimmed) ? Buffer.from(trimmed, 'hex') : undefined;
}

/**
 * Meter keys for the API. Keys are encrypted exactly as the `hes` CLI and the decryptor expect (MeterKeyCipher:
 * AES-256-GCM under the master key, AAD = meter id) and written through MeterKeyRepository, whose trigger tells
 * the decryptors to reload the meter. Without a master key (HES_MASTER_KEY) nothing key-related can work, so
 * every key operation answers 503 instead of storing something the decryptors could not read.
 */
export class MeterKeyVault {
  private readonly repository: MeterKeyRepository;

  constructor(
    private readonly pool: Pool,
    private readonly cipher: MeterKeyCipher | undefined,
  ) {
    this.repository = new MeterKeyRepository(pool);
  }

  /** The fingerprint a key would be stored with (for dry runs and audit entries). */
  fingerprint(key: Buffer): string {
    return this.requireCipher().fingerprint(key);
  }

  /** Stores or rotates a meter's key; the version increases on every rotation. */
  async store(meterId: string, key: Buffer): Promise<MeterKeyInfo> {
    if (key.length !== METER_KEY_BYTES) throw new Error(`meter key must be ${METER_KEY_BYTES} bytes`);
    const stored = await this.repository.store(meterId, this.requireCipher().encrypt(meterId, key));
    return { fingerprint: stored.fingerprint, version: stored.version, setAt: stored.setAt };
  }

  /**
   * Stores or rotates many keys, each with the audit entry `auditOf` makes from its stored record, in one
   * transaction: either every key of the call and its entry are written, or none. Meter ids must be distinct.
   */
  async storeMany(
    keys: ReadonlyArray<{ meterId: string; key: Buffer }>,
    auditOf: (meterId: string, stored: MeterKeyInfo) => AuditEntry,
  ): Promise<Map<string, MeterKeyInfo>> {
    const cipher = this.requireCipher();
    const encrypted = keys.map(({ meterId, key }) => ({ meterId, ...cipher.encrypt(meterId, key) }));
    return inTransaction(this.pool, async (client) => {
      const stored = await this.repository.storeMany(encrypted, client);
      const infos = new Map<string, MeterKeyInfo>(
        stored.map((row) => [
          row.meterId,
          { fingerprint: row.fingerprint, version: row.version, setAt: row.setAt },
        ]),
      );
      await new AuditLog(client).writeMany(
        keys.map(({ meterId }) => {
          const info = infos.get(meterId);
          if (!info) throw new Error(`meter key of ${meterId} was not stored`);
          return auditOf(meterId, info);
        }),
      );
      return infos;
    });
  }

  async info(meterId: string): Promise<MeterKeyInfo | undefined> {
    const stored = await this.repository.load(meterId);
    return stored && { fingerprint: stored.fingerprint, version: stored.version, setAt: stored.setAt };
  }

  async remove(meterId: string): Promise<boolean> {
    return this.repository.remove(meterId);
  }

  /**
   * Of `meterIds`, the meters in the principal's societies (platform admins: every registered meter). What is
   * not returned is, for the caller, a meter that does not exist.
   */
  async metersInTenant(principal: Principal, meterIds: readonly string[]): Promise<Map<string, TenantMeter>> {
    if (meterIds.length === 0) return new Map();
    const scope = scopeToSocieties(principal, 'society_id', 2);
    const result = await this.pool.query<TenantMeter>(
      `SELECT meter_id AS "meterId", society_id AS "societyId" FROM meters
       WHERE meter_id = ANY($1::text[]) AND ${scope.sql}`,
      [meterIds, ...scope.params],
    );
    return new Map(result.rows.map((row) => [row.meterId, row]));
  }

  /**
   * The decrypted keys of those of `meterIds` that are in the principal's tenant and have one. Keys of other
   * tenants' meters are never read. A stored record that does not decrypt (wrong master key, tampered row) is
   * listed in `unreadable` instead of failing the others. The caller wipes the buffers when done.
   */
  async keysInTenant(principal: Principal, meterIds: readonly string[]): Promise<TenantKeys> {
    const keys = new Map<string, Buffer>();
    const unreadable = new Set<string>();
    if (meterIds.length === 0) return { keys, unreadable };
    const cipher = this.requireCipher();
    const scope = scopeToSocieties(principal, 'm.society_id', 2);
    const result = await this.pool.query<{ meterId: string; ciphertext: Buffer; iv: Buffer; tag: Buffer }>(
      `SELECT k.meter_id AS "meterId", k.ciphertext, k.iv, k.tag FROM meter_keys k
       JOIN meters m ON m.meter_id = k.meter_id
       WHERE k.meter_id = ANY($1::text[]) AND ${scope.sql}`,
      [meterIds, ...scope.params],
    );
    for (const row of result.rows) {
      try {
        keys.set(row.meterId, cipher.decrypt(row.meterId, row));
      } catch (error) {
        if (!(error instanceof MeterKeyDecryptionError)) throw error;
        unreadable.add(row.meterId);
      }
    }
    return { keys, unreadable };
  }

  private requireCipher(): MeterKeyCipher {
    if (!this.cipher) {
      throw new ServiceUnavailableException(
        'meter key management is not configured on this server (HES_MASTER_KEY is not set)',
      );
    }
    return this.cipher;
  }
}
