import type { Pool, PoolClient } from 'pg';
import type { ApiKeyScope, Role } from './principal';

export interface UserRecord {
  id: string;
  email: string;
  passwordHash: string | null;
  displayName: string;
  disabled: boolean;
  createdAt: Date;
}

export interface MembershipRecord {
  userId: string;
  /** null: the platform-wide membership of a platform admin. */
  societyId: string | null;
  role: Role;
}

const USER_COLUMNS = `id, email, password_hash AS "passwordHash", display_name AS "displayName", disabled,
  created_at AS "createdAt"`;

/** Users and their memberships (one role per society, or platform-wide). Emails are stored lower-case. */
export class UserRepository {
  constructor(private readonly pool: Pool) {}

  async create(user: {
    email: string;
    passwordHash: string | null;
    displayName: string;
  }): Promise<UserRecord> {
    const result = await this.pool.query<UserRecord>(
      `INSERT INTO users (email, password_hash, display_name) VALUES ($1, $2, $3) RETURNING ${USER_COLUMNS}`,
      [user.email.toLowerCase(), user.passwordHash, user.displayName],
    );
    return result.rows[0];
  }

  async findByEmail(email: string): Promise<UserRecord | undefined> {
    const result = await this.pool.query<UserRecord>(`SELECT ${USER_COLUMNS} FROM users WHERE email = $1`, [
      email.toLowerCase(),
    ]);
    return result.rows[0];
  }

  async findById(id: string): Promise<UserRecord | undefined> {
    const result = await this.pool.query<UserRecord>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
    return result.rows[0];
  }

  async setDisabled(id: string, disabled: boolean): Promise<UserRecord | undefined> {
    const result = await this.pool.query<UserRecord>(
      `UPDATE users SET disabled = $2, updated_at = now() WHERE id = $1 RETURNING ${USER_COLUMNS}`,
      [id, disabled],
    );
    return result.rows[0];
  }

  async memberships(userId: string): Promise<MembershipRecord[]> {
    const result = await this.pool.query<MembershipRecord>(
      `SELECT user_id AS "userId", society_id AS "societyId", role FROM memberships WHERE user_id = $1
       ORDER BY society_id NULLS FIRST`,
      [userId],
    );
    return result.rows;
  }

  /** Sets the user's role in a society (or the platform membership when societyId is null); returns the previous role. */
  async setMembership(userId: string, societyId: string | null, role: Role): Promise<Role | undefined> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const previous = await client.query<{ role: Role }>(
        `SELECT role FROM memberships WHERE user_id = $1 AND society_id IS NOT DISTINCT FROM $2 FOR UPDATE`,
        [userId, societyId],
      );
      if (previous.rows.length > 0) {
        await client.query(
          `UPDATE memberships SET role = $3 WHERE user_id = $1 AND society_id IS NOT DISTINCT FROM $2`,
          [userId, societyId, role],
        );
      } else {
        await client.query(`INSERT INTO memberships (user_id, society_id, role) VALUES ($1, $2, $3)`, [
          userId,
          societyId,
          role,
        ]);
      }
      await client.query('COMMIT');
      return previous.rows[0]?.role;
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  }

  /** Removes a membership; returns the role it had, or undefined when there was none. */
  async removeMembership(userId: string, societyId: string | null): Promise<Role | undefined> {
    const result = await this.pool.query<{ role: Role }>(
      `DELETE FROM memberships WHERE user_id = $1 AND society_id IS NOT DISTINCT FROM $2 RETURNING role`,
      [userId, societyId],
    );
    return result.rows[0]?.role;
  }
}

export interface ApiKeyRecord {
  id: string;
  societyId: string;
  name: string;
  scope: ApiKeyScope;
  createdBy: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const API_KEY_COLUMNS = `id, society_id AS "societyId", name, scope, created_by AS "createdBy", created_at AS "createdAt",
  last_used_at AS "lastUsedAt", revoked_at AS "revokedAt"`;

/** How stale last_used_at may get: one write per key per minute at most, not one per request. */
const LAST_USED_RESOLUTION = '1 minute';

/** Society API keys, stored as SHA-256 of the key (see @hes/keys hashApiKey). */
export class ApiKeyRepository {
  constructor(private readonly pool: Pool) {}

  async create(key: {
    societyId: string;
    name: string;
    scope: ApiKeyScope;
    keyHash: string;
    createdBy: string | null;
  }): Promise<ApiKeyRecord> {
    const result = await this.pool.query<ApiKeyRecord>(
      `INSERT INTO api_keys (society_id, name, scope, key_hash, created_by) VALUES ($1, $2, $3, $4, $5)
       RETURNING ${API_KEY_COLUMNS}`,
      [key.societyId, key.name, key.scope, key.keyHash, key.createdBy],
    );
    return result.rows[0];
  }

  async findActiveByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const result = await this.pool.query<ApiKeyRecord>(
      `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
      [keyHash],
    );
    return result.rows[0];
  }

  async markUsed(id: string): Promise<void> {
    await this.pool.query(
      `UPDATE api_keys SET last_used_at = now()
       WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '${LAST_USED_RESOLUTION}')`,
      [id],
    );
  }
}

export interface RefreshTokenRecord {
  id: string;
  familyId: string;
  userId: string;
  expiresAt: Date;
  usedAt: Date | null;
  revokedAt: Date | null;
}

/** Rotating refresh tokens, by SHA-256 of the token. */
export class RefreshTokenRepository {
  constructor(private readonly pool: Pool) {}

  async insert(
    db: Pool | PoolClient,
    token: { familyId: string | null; userId: string; tokenHash: string; expiresAt: Date },
  ): Promise<RefreshTokenRecord> {
    const result = await db.query<RefreshTokenRecord>(
      `INSERT INTO refresh_tokens (family_id, user_id, token_hash, expires_at)
       VALUES (COALESCE($1::uuid, gen_random_uuid()), $2, $3, $4)
       RETURNING id, family_id AS "familyId", user_id AS "userId", expires_at AS "expiresAt", used_at AS "usedAt",
         revoked_at AS "revokedAt"`,
      [token.familyId, token.userId, token.tokenHash, token.expiresAt],
    );
    return result.rows[0];
  }

  /** Locks the token's row for the rest of the transaction, so two refreshes with one token cannot both rotate it. */
  async findForUpdate(client: PoolClient, tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    const result = await client.query<RefreshTokenRecord>(
      `SELECT id, family_id AS "familyId", user_id AS "userId", expires_at AS "expiresAt", used_at AS "usedAt",
         revoked_at AS "revokedAt"
       FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE`,
      [tokenHash],
    );
    return result.rows[0];
  }

  async markUsed(client: PoolClient, id: string): Promise<void> {
    await client.query(`UPDATE refresh_tokens SET used_at = now() WHERE id = $1`, [id]);
  }

  /** Revokes every live token of a family; returns how many were live. */
  async revokeFamily(db: Pool | PoolClient, familyId: string): Promise<number> {
    const result = await db.query(
      `UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL`,
      [familyId],
    );
    return result.rowCount ?? 0;
  }

  async revokeFamilyOfToken(tokenHash: string): Promise<{ userId: string; revoked: number } | undefined> {
    const result = await this.pool.query<{ userId: string; revoked: string }>(
      `WITH family AS (SELECT family_id, user_id FROM refresh_tokens WHERE token_hash = $1),
            revoked AS (
              UPDATE refresh_tokens SET revoked_at = now()
              WHERE family_id = (SELECT family_id FROM family) AND revoked_at IS NULL RETURNING 1)
       SELECT (SELECT user_id FROM family) AS "userId", (SELECT count(*) FROM revoked) AS revoked
       WHERE EXISTS (SELECT 1 FROM family)`,
      [tokenHash],
    );
    const row = result.rows[0];
    return row ? { userId: row.userId, revoked: Number(row.revoked) } : undefined;
  }

  /** Revokes every live refresh token of a user (disabled user, changed role, changed password). */
  async revokeUser(userId: string): Promise<number> {
    const result = await this.pool.query(
      `UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL`,
      [userId],
    );
    return result.rowCount ?? 0;
  }
}
