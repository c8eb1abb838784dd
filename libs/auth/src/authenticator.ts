import { hashApiKey } from '@hes/keys';
import { decodeJwt } from 'jose';
import type { IncomingHttpHeaders } from 'node:http';
import type { AccessTokens } from './access-tokens';
import { AuthenticationError } from './errors';
import type { OidcVerifier } from './oidc';
import { apiKeyPrincipal, type Principal } from './principal';
import type { ApiKeyRepository } from './repositories';

/** API keys made by @hes/keys generateApiKey carry this prefix; JWTs never start with it. */
const API_KEY_PREFIX = 'hesgw_';

/** The credential of a request: `Authorization: Bearer <JWT or API key>` or `X-API-Key: <key>`. */
export function credentialOf(headers: IncomingHttpHeaders): string | undefined {
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.trim() !== '') return apiKey.trim();
  const authorization = headers.authorization;
  if (typeof authorization !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match) throw new AuthenticationError('Authorization header must be "Bearer <token>"');
  return match[1];
}

/**
 * Turns a credential into a Principal: API keys by their hash, our own access tokens by signature, and, when
 * configured, an external identity provider's tokens by its JWKS. Which verifier runs is decided by the token's
 * (unverified) issuer; the chosen verifier then checks everything, the issuer included.
 */
export class Authenticator {
  constructor(
    private readonly accessTokens: AccessTokens,
    private readonly apiKeys: ApiKeyRepository,
    private readonly oidc: OidcVerifier | undefined,
  ) {}

  async authenticate(credential: string): Promise<Principal> {
    if (credential.startsWith(API_KEY_PREFIX)) return this.apiKey(credential);
    let issuer: string | undefined;
    try {
      issuer = decodeJwt(credential).iss;
    } catch {
      throw new AuthenticationError('credential is neither an API key nor a JWT');
    }
    if (issuer === this.accessTokens.issuer) return this.accessTokens.verify(credential);
    if (this.oidc && issuer === this.oidc.issuer) return this.oidc.verify(credential);
    throw new AuthenticationError('token from an unknown issuer');
  }

  private async apiKey(key: string): Promise<Principal> {
    const record = await this.apiKeys.findActiveByHash(hashApiKey(key));
    if (!record) throw new AuthenticationError('unknown or revoked API key');
    await this.apiKeys.markUsed(record.id);
    return apiKeyPrincipal(record.id, record.societyId, record.scope);
  }
}
