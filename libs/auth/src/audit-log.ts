import type { Pool } from 'pg';

/** Security-relevant actions recorded in audit_log. */
export type AuditAction =
  | 'auth.login'
  | 'auth.login_failed'
  | 'auth.logout'
  | 'auth.refresh_reuse'
  | 'user.create'
  | 'user.disable'
  | 'user.enable'
  | 'membership.set'
  | 'membership.remove'
  | 'invitation.create'
  | 'invitation.accept'
  | 'invitation.accept_failed'
  | 'invitation.revoke'
  | 'api_key.create'
  | 'api_key.revoke'
  | 'meter_key.set'
  | 'meter_key.rotate'
  | 'meter_key.delete'
  | 'meter_key.import'
  | 'meter_key.export_attempt'
  | 'meter.command'
  | 'ingest.key_refused'
  | 'society.create'
  | 'society.delete'
  | 'meter.create'
  | 'meter.update'
  | 'meter.delete'
  | 'meter.import'
  | 'meter_group.create'
  | 'unknown_meter.register';

export interface AuditEntry {
  /** `user:<id>`, `api_key:<id>`, `oidc:<sub>`, `cli` or `anonymous`. */
  actor: string;
  action: AuditAction;
  target?: string;
  societyId?: string | null;
  /** Never credentials: the writer stores these as given. */
  details?: Record<string, unknown>;
  ip?: string;
}

export interface AuditRecord extends Required<Omit<AuditEntry, 'ip' | 'target'>> {
  id: string;
  ts: Date;
  target: string | null;
  ip: string | null;
}

export class AuditLog {
  /** A pool, or a client inside a transaction when the entry must commit or roll back with the change. */
  constructor(private readonly pool: Pick<Pool, 'query'>) {}

  async write(entry: AuditEntry): Promise<void> {
    await this.pool.query(
      `INSERT INTO audit_log (actor, action, target, society_id, details, ip) VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        entry.actor,
        entry.action,
        entry.target ?? null,
        entry.societyId ?? null,
        JSON.stringify(entry.details ?? {}),
        entry.ip ?? null,
      ],
    );
  }

  /** Writes many entries in one statement (bulk operations such as key imports), in the given order. */
  async writeMany(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.pool.query(
      `INSERT INTO audit_log (actor, action, target, society_id, details, ip)
       SELECT actor, action, target, society_id, details, ip
       FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[], $5::jsonb[], $6::text[])
         WITH ORDINALITY AS entry (actor, action, target, society_id, details, ip, position)
       ORDER BY position`,
      [
        entries.map((entry) => entry.actor),
        entries.map((entry) => entry.action),
        entries.map((entry) => entry.target ?? null),
        entries.map((entry) => entry.societyId ?? null),
        entries.map((entry) => JSON.stringify(entry.details ?? {})),
        entries.map((entry) => entry.ip ?? null),
      ],
    );
  }

  /** Newest first; societyIds 'all' for every entry, else only entries of those societies. */
  async list(options: {
    societyIds: 'all' | readonly string[];
    limit: number;
    action?: string;
  }): Promise<AuditRecord[]> {
    const params: unknown[] = [options.limit];
    const where: string[] = [];
    if (options.societyIds !== 'all') {
      params.push(options.societyIds);
      where.push(`society_id = ANY($${params.length}::uuid[])`);
    }
    if (options.action !== undefined) {
      params.push(options.action);
      where.push(`action = $${params.length}`);
    }
    const result = await this.pool.query<AuditRecord>(
      `SELECT id::text, ts, actor, action, target, society_id AS "societyId", details, ip FROM audit_log
       ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ts DESC, id DESC LIMIT $1`,
      params,
    );
    return result.rows;
  }
}
