import { UserRepository, type Role, type UserRecord } from '@hes/auth';
import type { Pool } from 'pg';

export interface UserSummary {
  id: string;
  email: string;
  displayName: string;
  disabled: boolean;
  createdAt: Date;
  memberships: { societyId: string | null; role: Role }[];
}

export interface MemberView {
  userId: string;
  email: string;
  displayName: string;
  disabled: boolean;
  role: Role;
}

/** Listing and editing users for administrators (authentication lookups are in @hes/auth UserRepository). */
export class UserAdminRepository extends UserRepository {
  constructor(private readonly db: Pool) {
    super(db);
  }

  async list(): Promise<UserSummary[]> {
    const result = await this.db.query<UserSummary>(
      `SELECT u.id, u.email, u.display_name AS "displayName", u.disabled, u.created_at AS "createdAt",
         COALESCE(json_agg(json_build_object('societyId', m.society_id, 'role', m.role)
           ORDER BY m.society_id NULLS FIRST) FILTER (WHERE m.id IS NOT NULL), '[]') AS memberships
       FROM users u LEFT JOIN memberships m ON m.user_id = u.id
       GROUP BY u.id ORDER BY u.email`,
    );
    return result.rows;
  }

  async summary(user: UserRecord): Promise<UserSummary> {
    const memberships = await this.memberships(user.id);
    return {
      id: user.id,
      email: user.email,
      displayName: user.displayName,
      disabled: user.disabled,
      createdAt: user.createdAt,
      memberships: memberships.map((m) => ({ societyId: m.societyId, role: m.role })),
    };
  }

  async setDisplayName(id: string, displayName: string): Promise<void> {
    await this.db.query(`UPDATE users SET display_name = $2, updated_at = now() WHERE id = $1`, [
      id,
      displayName,
    ]);
  }

  async societyExists(societyId: string): Promise<boolean> {
    const result = await this.db.query(`SELECT 1 FROM societies WHERE id = $1`, [societyId]);
    return result.rows.length > 0;
  }

  async members(societyId: string): Promise<MemberView[]> {
    const result = await this.db.query<MemberView>(
      `SELECT u.id AS "userId", u.email, u.display_name AS "displayName", u.disabled, m.role
       FROM memberships m JOIN users u ON u.id = m.user_id
       WHERE m.society_id = $1 ORDER BY u.email`,
      [societyId],
    );
    return result.rows;
  }

  async member(societyId: string, userId: string): Promise<MemberView | undefined> {
    return (await this.members(societyId)).find((member) => member.userId === userId);
  }
}
