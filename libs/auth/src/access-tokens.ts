import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { AuthenticationError } from './errors';
import { isRole, isSocietyRole, scopesOfRole, type Principal, type SocietyRole } from './principal';

export interface AccessTokenSettings {
  /** HS256 key; at least 32 bytes. */
  secret: Uint8Array;
  issuer: string;
  ttlSeconds: number;
}

export interface IssuedAccessToken {
  token: string;
  expiresAt: Date;
}

/** The audience of our own tokens, so a token minted for another service with the same issuer is refused. */
const AUDIENCE = 'hes-api';

/**
 * Short-lived HS256 access tokens carrying the user's role per society, so a request needs no database lookup.
 * Role changes therefore take effect at the next refresh (at most one token lifetime later).
 */
export class AccessTokens {
  readonly issuer: string;

  constructor(private readonly settings: AccessTokenSettings) {
    if (settings.secret.length < 32) throw new Error('the access token secret must be at least 32 bytes');
    this.issuer = settings.issuer;
  }

  async issue(principal: Principal, now: Date = new Date()): Promise<IssuedAccessToken> {
    if (principal.kind !== 'user') throw new Error('access tokens are issued to users only');
    const issuedAt = Math.floor(now.getTime() / 1000);
    const expiresAt = issuedAt + this.settings.ttlSeconds;
    const token = await new SignJWT({ role: principal.role, soc: principal.societyRoles })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(this.settings.issuer)
      .setAudience(AUDIENCE)
      .setSubject(principal.id)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .sign(this.settings.secret);
    return { token, expiresAt: new Date(expiresAt * 1000) };
  }

  /** @throws AuthenticationError when the signature, issuer, audience, expiry or claims are not right. */
  async verify(token: string): Promise<Principal> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.settings.secret, {
        issuer: this.settings.issuer,
        audience: AUDIENCE,
        algorithms: ['HS256'],
      }));
    } catch (error) {
      throw new AuthenticationError(
        error instanceof joseErrors.JWTExpired ? 'access token expired' : 'invalid access token',
      );
    }
    const { sub, role, soc } = payload;
    if (typeof sub !== 'string' || !isRole(role) || typeof soc !== 'object' || soc === null) {
      throw new AuthenticationError('invalid access token');
    }
    const societyRoles: Record<string, SocietyRole> = {};
    for (const [societyId, societyRole] of Object.entries(soc)) {
      if (!isSocietyRole(societyRole)) throw new AuthenticationError('invalid access token');
      societyRoles[societyId] = societyRole;
    }
    return {
      kind: 'user',
      id: sub,
      source: 'password',
      role,
      societyIds: role === 'platform_admin' ? 'all' : Object.keys(societyRoles),
      societyRoles: role === 'platform_admin' ? {} : societyRoles,
      scopes: scopesOfRole(role),
    };
  }
}
