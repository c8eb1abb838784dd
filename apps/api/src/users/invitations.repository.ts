import { AuditLog, type AuditEntry, type Role, type SocietyRole, type UserRecord } from '@hes/auth';
import { inTransaction } from '@hes/storage';
import type { Pool } from 'pg';

/** Where an invitation stands: only a pending one can be accepted or revoked. */
export type InvitationStatus = 'pending' | 'accepted' | 'revoked' | 'expired';

export interface InvitationRecord {
  id: string;
  societyId: string;
  email: string;
  role: SocietyRole;
  invitedBy: string;
  createdAt: Date;
  expiresAt: Date;
  acceptedAt: Date | null;
  revokedAt: Date | null;
}

const COLUMNS = `id, society_id AS "societyId", email, role, invited_by AS "invitedBy", created_at AS "createdAt",
  expires_at AS "expiresAt", accepted_at AS "acceptedAt", revoked_at AS "revokedAt"`;

const USER_COLUMNS = `id, email, password_hash AS "passwordHash", display_name AS "displayName", disabled,
  created_at AS "createdAt"`;

export function invitationStatus(invitation: InvitationRecord, now = new Date()): InvitationStatus {
  if (invitation.acceptedAt !== null) return 'accepted';
  if (invitation.revokedAt !== null) return 'revoked';
  if (invitation.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'pending';
}

/** What accepting changes, all in one transaction with the invitation's row locked. */
export interface Acceptance {
  /** Throws unless the invitation, as it stands once locked, can still be accepted. */
  check(invitation: InvitationRecord | undefined): asserts invitation is InvitationRecord;
  /** The invitee's account: an existing user, or one to create with these values. */
  user: UserRecord | { email: string; displayName: string; passwordHash: string };
  audit: { actor: (userId: string) => string; ip?: string };
}

/** Society invitations, stored by the SHA-256 of their one-time token. */
export class InvitationsRepository {
  constructor(private readonly pool: Pool) {}

  /**
   * Stores a new invitation and revokes the society's earlier pending invitations of the same email, so one
   * token at most lets that email in; the audit entry commits with it.
   */
  async create(
    invitation: {
      societyId: string;
      email: string;
      role: SocietyRole;
      tokenHash: string;
      invitedBy: string;
      expiresAt: Date;
    },
    audit: Omit<AuditEntry, 'target'>,
  ): Promise<InvitationRecord> {
    return inTransaction(this.pool, async (client) => {
      const email = invitation.email.toLowerCase();
      await client.query(
        `UPDATE invitations SET revoked_at = now()
         WHERE society_id = $1 AND email = $2 AND accepted_at IS NULL AND revoked_at IS NULL`,
        [invitation.societyId, email],
      );
      const result = await client.query<InvitationRecord>(
        `INSERT INTO invitations (society_id, email, role, token_hash, invited_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
        [
          invitation.societyId,
          email,
          invitation.role,
          invitation.tokenHash,
          invitation.invitedBy,
          invitation.expiresAt,
        ],
      );
      const created = result.rows[0];
      await new AuditLog(client).write({ ...audit, target: `invitation:${created.id}` });
      return created;
    });
  }

  /** Newest first. */
  async listBySociety(societyId: string): Promise<InvitationRecord[]> {
    const result = await this.pool.query<InvitationRecord>(
      `SELECT ${COLUMNS} FROM invitations WHERE society_id = $1 ORDER BY created_at DESC, id`,
      [societyId],
    );
    return result.rows;
  }

  async findInSociety(societyId: string, id: string): Promise<InvitationRecord | undefined> {
    const result = await this.pool.query<InvitationRecord>(
      `SELECT ${COLUMNS} FROM invitations WHERE society_id = $1 AND id = $2`,
      [societyId, id],
    );
    return result.rows[0];
  }

  async findByTokenHash(tokenHash: string): Promise<InvitationRecord | undefined> {
    const result = await this.pool.query<InvitationRecord>(
      `SELECT ${COLUMNS} FROM invitations WHERE token_hash = $1`,
      [tokenHash],
    );
    return result.rows[0];
  }

  /** True when the invitation was neither accepted nor revoked and is now revoked. */
  async revoke(societyId: string, id: string): Promise<boolean> {
    const result = await this.pool.query(
      `UPDATE invitations SET revoked_at = now()
       WHERE society_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL`,
      [societyId, id],
    );
    return (result.rowCount ?? 0) > 0;
  }

  /**
   * Accepts the invitation of `tokenHash`: locks it, lets `acceptance.check` refuse it as it now stands, creates the
   * user when needed, sets the membership to the invited role and marks the invitation accepted, with the audit
   * entries, in one transaction (two concurrent accepts of one token: the second sees it accepted).
   */
  async accept(
    tokenHash: string,
    acceptance: Acceptance,
  ): Promise<{ invitation: InvitationRecord; userId: string }> {
    return inTransaction(this.pool, async (client) => {
      const locked = await client.query<InvitationRecord>(
        `SELECT ${COLUMNS} FROM invitations WHERE token_hash = $1 FOR UPDATE`,
        [tokenHash],
      );
      const invitation = locked.rows[0];
      acceptance.check(invitation);
      const audit = new AuditLog(client);
      let user: { id: string };
      if ('id' in acceptance.user) {
        user = acceptance.user;
      } else {
        const created = await client.query<UserRecord>(
          `INSERT INTO users (email, password_hash, display_name) VALUES ($1, $2, $3) RETURNING ${USER_COLUMNS}`,
          [acceptance.user.email.toLowerCase(), acceptance.user.passwordHash, acceptance.user.displayName],
        );
        user = created.rows[0];
        await audit.write({
          actor: acceptance.audit.actor(user.id),
          action: 'user.create',
          target: `user:${user.id}`,
          societyId: invitation.societyId,
          details: { email: invitation.email, invitation: invitation.id },
          ip: acceptance.audit.ip,
        });
      }
      const previous = await client.query<{ role: Role }>(
        `SELECT role FROM memberships WHERE user_id = $1 AND society_id = $2 FOR UPDATE`,
        [user.id, invitation.societyId],
      );
      const previousRole = previous.rows[0]?.role ?? null;
      if (previousRole === null) {
        await client.query(`INSERT INTO memberships (user_id, society_id, role) VALUES ($1, $2, $3)`, [
          user.id,
          invitation.societyId,
          invitation.role,
        ]);
      } else if (previousRole !== invitation.role) {
        await client.query(`UPDATE memberships SET role = $3 WHERE user_id = $1 AND society_id = $2`, [
          user.id,
          invitation.societyId,
          invitation.role,
        ]);
      }
      const accepted = await client.query<InvitationRecord>(
        `UPDATE invitations SET accepted_at = now(), accepted_by = $2 WHERE id = $1 RETURNING ${COLUMNS}`,
        [invitation.id, user.id],
      );
      const actor = acceptance.audit.actor(user.id);
      await audit.write({
        actor,
        action: 'invitation.accept',
        target: `invitation:${invitation.id}`,
        societyId: invitation.societyId,
        details: { role: invitation.role, newUser: !('id' in acceptance.user) },
        ip: acceptance.audit.ip,
      });
      if (previousRole !== invitation.role) {
        await audit.write({
          actor,
          action: 'membership.set',
          target: `user:${user.id}`,
          societyId: invitation.societyId,
          details: { role: invitation.role, previousRole, invitation: invitation.id },
          ip: acceptance.audit.ip,
        });
      }
      return { invitation: accepted.rows[0], userId: user.id };
    });
  }
}
