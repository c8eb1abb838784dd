import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { AuthenticationError } from './errors';
import { isUuid } from './uuid';
import { isRole, scopesOfRole, type Principal, type SocietyRole } from './principal';

export interface OidcSettings {
  issuer: string;
  jwksUrl: string;
  audience: string;
  roleClaim: string;
  societiesClaim: string;
}

/** Asymmetric algorithms only: an identity provider never shares a symmetric key with us. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/**
 * Accepts bearer JWTs of an external OpenID Connect provider: signature checked against its JWKS (fetched and
 * cached by jose, refetched when an unknown key id appears), issuer and audience as configured. The role and the
 * societies come from two configurable claims; the provider is the authority for them.
 */
export class OidcVerifier {
  private readonly keys: ReturnType<typeof createRemoteJWKSet>;

  constructor(private readonly settings: OidcSettings) {
    this.keys = createRemoteJWKSet(new URL(settings.jwksUrl), { timeoutDuration: 5000 });
  }

  get issuer(): string {
    return this.settings.issuer;
  }

  /** @throws AuthenticationError for a bad signature, issuer, audience, expiry, or unmappable claims. */
  async verify(token: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: ALGORITHMS,
      }));
    } catch {
      throw new AuthenticationError('invalid identity provider token');
    }
    return this.principalOf(payload);
  }

  private principalOf(payload: JWTPayload): Principal {
    const { sub } = payload;
    const role = payload[this.settings.roleClaim];
    if (typeof sub !== 'string' || sub === '')
      throw new AuthenticationError('identity provider token has no subject');
    if (!isRole(role)) {
      throw new AuthenticationError(
        `identity provider token has no valid '${this.settings.roleClaim}' claim`,
      );
    }
    const base = { kind: 'user', id: sub, source: 'oidc', role, scopes: scopesOfRole(role) } as const;
    if (role === 'platform_admin') return { ...base, societyIds: 'all', societyRoles: {} };
    const societies = payload[this.settings.societiesClaim];
    if (
      !Array.isArray(societies) ||
      societies.length === 0 ||
      !societies.every((id): id is string => isUuid(id))
    ) {
      throw new AuthenticationError(
        `identity provider token has no '${this.settings.societiesClaim}' claim listing society ids (UUIDs)`,
      );
    }
    const societyRoles: Record<string, SocietyRole> = {};
    for (const id of societies) societyRoles[id] = role;
    return { ...base, societyIds: Object.keys(societyRoles), societyRoles };
  }
}
