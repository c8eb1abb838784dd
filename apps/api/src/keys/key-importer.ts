import { actorOf, roleIn, type Principal } from '@hes/auth';
import type { KeyImportError, KeyImportResponse, KeyImportRow } from './keys.dto';
import { MeterKeyVault, parseMeterKeyHex, type TenantMeter } from './meter-key-vault';

/** One meter/key pair read from an import file, with where each value came from (for error reports). */
export interface KeyImportCandidate {
  row: number;
  /** `expected` describes a valid value in the error message (the source's own format, e.g. a serial number). */
  meterId: { column: string; value: string; expected?: string };
  key: { column: string; value: string };
}

export type KeyImportSource = 'csv' | 'kem';

const METER_ID = /^[0-9A-Fa-f]{8}$/;

/** Keys stored per transaction (with their audit entries): bounds statement size and lock time. */
const STORE_CHUNK = 1000;

/** Roles that may set meter keys in a society (platform admins everywhere). */
export const KEY_WRITERS = ['society_admin'] as const;

/**
 * Imports meter keys row by row: every row is validated on its own (meter id, key, meter in the caller's
 * tenant, caller administers the meter's society, not a repeat of an earlier row) and the good rows are stored
 * even when others fail. Meters outside the caller's societies are reported exactly like meters that do not
 * exist. Each stored key is audit-logged with its fingerprint; a dry run stores and logs nothing.
 */
export class KeyImporter {
  constructor(private readonly vault: MeterKeyVault) {}

  async import(
    principal: Principal,
    candidates: readonly KeyImportCandidate[],
    options: { dryRun: boolean; source: KeyImportSource; ip?: string },
  ): Promise<KeyImportResponse> {
    const parsed = candidates.map((candidate) => this.validate(candidate));
    const firstRowOf = new Map<string, number>();
    for (const item of parsed) {
      if (item.meterId === null) continue;
      const first = firstRowOf.get(item.meterId);
      if (first === undefined) firstRowOf.set(item.meterId, item.candidate.row);
      else
        item.errors.push({
          column: item.candidate.meterId.column,
          code: 'duplicate',
          message: `meter ${item.meterId} is already in row ${first}`,
        });
    }
    const meters = await this.vault.metersInTenant(principal, [...firstRowOf.keys()]);
    const rows: KeyImportRow[] = [];
    const accepted: Array<{ row: KeyImportRow; meterId: string; key: Buffer }> = [];
    try {
      for (const item of parsed) {
        const { candidate, meterId, key, errors } = item;
        if (meterId !== null && errors.every((error) => error.code !== 'duplicate')) {
          errors.push(...this.accessErrors(principal, candidate, meters.get(meterId)));
        }
        const row: KeyImportRow = { row: candidate.row, meterId, status: 'failed', errors };
        rows.push(row);
        if (errors.length === 0 && key && meterId !== null) accepted.push({ row, meterId, key });
      }
      if (options.dryRun) {
        for (const { row, key } of accepted)
          Object.assign(row, { status: 'valid', fingerprint: this.vault.fingerprint(key) });
      } else {
        for (let start = 0; start < accepted.length; start += STORE_CHUNK) {
          const chunk = accepted.slice(start, start + STORE_CHUNK);
          const stored = await this.vault.storeMany(chunk, (meterId, info) => ({
            actor: actorOf(principal),
            action: 'meter_key.import',
            target: `meter:${meterId}`,
            societyId: meters.get(meterId)?.societyId ?? null,
            details: { fingerprint: info.fingerprint, version: info.version, source: options.source },
            ip: options.ip,
          }));
          for (const { row, meterId } of chunk) {
            const info = stored.get(meterId);
            if (!info) throw new Error(`meter key of ${meterId} was not stored`);
            Object.assign(row, { status: 'imported', fingerprint: info.fingerprint, version: info.version });
          }
        }
      }
    } finally {
      for (const item of parsed) item.key?.fill(0);
    }
    const failed = rows.filter((row) => row.status === 'failed').length;
    return {
      dryRun: options.dryRun,
      total: rows.length,
      imported: rows.filter((row) => row.status === 'imported').length,
      valid: rows.length - failed,
      failed,
      rows,
    };
  }

  /** Unknown (or another tenant's) meter, or a role in the meter's society that may not set keys. */
  private accessErrors(
    principal: Principal,
    candidate: KeyImportCandidate,
    meter: TenantMeter | undefined,
  ): KeyImportError[] {
    const column = candidate.meterId.column;
    if (!meter) return [{ column, code: 'unknown_meter', message: 'meter not found' }];
    const role = roleIn(principal, meter.societyId);
    if (role === 'platform_admin' || (KEY_WRITERS as readonly string[]).includes(role ?? '')) return [];
    return [
      {
        column,
        code: 'forbidden',
        message: `role ${role} in the meter's society may not set keys (needs ${KEY_WRITERS.join(' or ')})`,
      },
    ];
  }

  private validate(candidate: KeyImportCandidate): {
    candidate: KeyImportCandidate;
    meterId: string | null;
    key: Buffer | undefined;
    errors: KeyImportError[];
  } {
    const errors: KeyImportError[] = [];
    const meterIdText = candidate.meterId.value.trim();
    let meterId: string | null = null;
    if (METER_ID.test(meterIdText)) meterId = meterIdText.toUpperCase();
    else
      errors.push({
        column: candidate.meterId.column,
        code: 'invalid_meter_id',
        message: meterIdText === '' ? 'is empty' : `must be ${candidate.meterId.expected ?? '8 hex digits'}`,
      });
    const key = parseMeterKeyHex(candidate.key.value);
    if (!key)
      errors.push({
        column: candidate.key.column,
        code: 'invalid_key',
        message:
          candidate.key.value.trim() === '' ? 'is empty' : 'must be 32 hex digits (a 16-byte AES-128 key)',
      });
    return { candidate, meterId, key, errors };
  }
}
