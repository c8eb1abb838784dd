import type { Pool } from 'pg';
import type { AccessTokens } from './access-tokens';
import type { AuditLog } from './audit-log';
import { AuthenticationError } from './errors';
import { verifyPassword } from './password';
import { userPrincipal, type Principal } from './principal';
import { RefreshTokenRepository, UserRepository } from './repositories';
import { generateRefreshToken, hashRefreshToken } from './secrets';

export interface TokenPair {
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
  principal: Principal;
}

/** The one message for every failed login, so it does not tell which emails exist or are disabled. */
const LOGIN_FAILED = 'invalid email or password';
const REFRESH_FAILED = 'invalid or expired refresh token';

/**
 * Password login and the refresh-token life cycle: every refresh rotates the token (the old one becomes used);
 * presenting a used token again is taken as theft and revokes its whole family, so both the thief and the
 * victim have to log in again. Logout revokes the family of the presented token.
 */
export class SessionService {
  private readonly users: UserRepository;
  private readonly refreshTokens: RefreshTokenRepository;

  constructor(
    private readonly pool: Pool,
    private readonly accessTokens: AccessTokens,
    private readonly audit: AuditLog,
    private readonly refreshTtlSeconds: number,
  ) {
    this.users = new UserRepository(pool);
    this.refreshTokens = new RefreshTokenRepository(pool);
  }

  async login(email: string, password: string, ip?: string): Promise<TokenPair> {
    const user = await this.users.findByEmail(email);
    const passwordMatches = await verifyPassword(password, user?.passwordHash);
    const principal =
      user && passwordMatches && !user.disabled
        ? userPrincipal(user.id, 'password', await this.users.memberships(user.id))
        : undefined;
    if (!user || !principal) {
      const reason = !user
        ? 'unknown_email'
        : !passwordMatches
          ? 'wrong_password'
          : user.disabled
            ? 'disabled'
            : 'no_memberships';
      await this.audit.write({
        actor: user ? `user:${user.id}` : 'anonymous',
        action: 'auth.login_failed',
        target: email.toLowerCase(),
        details: { reason },
        ip,
      });
      throw new AuthenticationError(LOGIN_FAILED);
    }
    const refreshToken = generateRefreshToken();
    const stored = await this.refreshTokens.insert(this.pool, {
      familyId: null,
      userId: user.id,
      tokenHash: hashRefreshToken(refreshToken),
      expiresAt: this.refreshExpiry(),
    });
    await this.audit.write({
      actor: `user:${user.id}`,
      action: 'auth.login',
      target: user.email,
      details: { family: stored.familyId },
      ip,
    });
    return this.pair(principal, refreshToken, stored.expiresAt);
  }

  async refresh(refreshToken: string, ip?: string): Promise<TokenPair> {
    const client = await this.pool.connect();
    let outcome: {
      reuseOf?: { familyId: string; userId: string };
      next?: { token: string; expiresAt: Date; userId: string };
    };
    try {
      await client.query('BEGIN');
      const stored = await this.refreshTokens.findForUpdate(client, hashRefreshToken(refreshToken));
      if (!stored || stored.revokedAt !== null || stored.expiresAt.getTime() <= Date.now()) {
        await client.query('ROLLBACK');
        throw new AuthenticationError(REFRESH_FAILED);
      }
      if (stored.usedAt !== null) {
        await this.refreshTokens.revokeFamily(client, stored.familyId);
        outcome = { reuseOf: { familyId: stored.familyId, userId: stored.userId } };
      } else {
        await this.refreshTokens.markUsed(client, stored.id);
        const token = generateRefreshToken();
        const next = await this.refreshTokens.insert(client, {
          familyId: stored.familyId,
          userId: stored.userId,
          tokenHash: hashRefreshToken(token),
          expiresAt: this.refreshExpiry(),
        });
        outcome = { next: { token, expiresAt: next.expiresAt, userId: stored.userId } };
      }
      await client.query('COMMIT');
    } catch (error) {
      if (!(error instanceof AuthenticationError)) await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
    if (outcome.reuseOf) {
      await this.audit.write({
        actor: `user:${outcome.reuseOf.userId}`,
        action: 'auth.refresh_reuse',
        target: `refresh_family:${outcome.reuseOf.familyId}`,
        details: { revokedFamily: outcome.reuseOf.familyId },
        ip,
      });
      throw new AuthenticationError(REFRESH_FAILED);
    }
    const next = outcome.next as { token: string; expiresAt: Date; userId: string };
    const user = await this.users.findById(next.userId);
    const principal =
      user && !user.disabled
        ? userPrincipal(user.id, 'password', await this.users.memberships(user.id))
        : undefined;
    if (!principal) {
      // Disabled or stripped of every membership since the last refresh: the session ends here.
      await this.refreshTokens.revokeFamilyOfToken(hashRefreshToken(next.token));
      throw new AuthenticationError(REFRESH_FAILED);
    }
    return this.pair(principal, next.token, next.expiresAt);
  }

  /** Ends the session the refresh token belongs to. Unknown tokens are ignored: logout always succeeds. */
  async logout(refreshToken: string, ip?: string): Promise<void> {
    const revoked = await this.refreshTokens.revokeFamilyOfToken(hashRefreshToken(refreshToken));
    if (revoked) {
      await this.audit.write({ actor: `user:${revoked.userId}`, action: 'auth.logout', details: {}, ip });
    }
  }

  private refreshExpiry(): Date {
    return new Date(Date.now() + this.refreshTtlSeconds * 1000);
  }

  private async pair(principal: Principal, refreshToken: string, refreshExpiresAt: Date): Promise<TokenPair> {
    const access = await this.accessTokens.issue(principal);
    return {
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt,
      refreshToken,
      refreshTokenExpiresAt: refreshExpiresAt,
      principal,
    };
  }
}
