import { ApiKeyRepository, scopeToSocieties, type ApiKeyRecord, type Principal } from '@hes/auth';
import type { Pool } from 'pg';

export type ApiKeyView = ApiKeyRecord;

const COLUMNS = `id, society_id AS "societyId", name, scope, created_by AS "createdBy", created_at AS "createdAt",
  last_used_at AS "lastUsedAt", revoked_at AS "revokedAt"`;

/** Administration of society API keys (the authentication lookups are in @hes/auth ApiKeyRepository). */
export class ApiKeyAdminRepository extends ApiKeyRepository {
  constructor(private readonly db: Pool) {
    super(db);
  }

  async societyExists(societyId: string): Promise<boolean> {
    const result = await this.db.query(`SELECT 1 FROM societies WHERE id = $1`, [societyId]);
    return result.rows.length > 0;
  }

  async listBySociety(societyId: string): Promise<ApiKeyView[]> {
    const result = await this.db.query<ApiKeyView>(
      `SELECT ${COLUMNS} FROM api_keys WHERE society_id = $1 ORDER BY created_at, id`,
      [societyId],
    );
    return result.rows;
  }

  async find(principal: Principal, id: string): Promise<ApiKeyView | undefined> {
    const scope = scopeToSocieties(principal, 'society_id', 2);
    const result = await this.db.query<ApiKeyView>(
      `SELECT ${COLUMNS} FROM api_keys WHERE id = $1 AND ${scope.sql}`,
      [id, ...scope.params],
    );
    return result.rows[0];
  }

  /** True when the key was live and is now revoked. */
  async revoke(id: string): Promise<boolean> {
    const result = await this.db.query(
      `UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`,
      [id],
    );
    return (result.rowCount ?? 0) > 0;
  }
}
