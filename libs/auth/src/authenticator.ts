import { hashApiKey } from '@hes/keys';
import { decodeJwt } from 'jose';
import { createHash } from 'node:crypto';
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

/** How long a verified JWT's principal is reused without verifying the signature again (never past its exp). */
const VERIFIED_TOKEN_TTL_MS = 60_000;
/** Verified tokens remembered at most; the oldest entry makes room for a new one. */
const VERIFIED_TOKENS_MAX = 10_000;

interface VerifiedToken {
  principal: Principal;
  validUntilMs: number;
}

/**
 * Turns a credential into a Principal: API keys by their hash, our own access tokens by signature, and, when
 * configured, an external identity provider's tokens by its JWKS. Which verifier runs is decided by the token's
 * (unverified) issuer; the chosen verifier then checks everything, the issuer included.
 *
 * A JWT's verification is a pure function of the token until it expires (access tokens carry no server-side
 * state to revoke), so a verified token's principal is kept for up to a minute, keyed by the SHA-256 of the
 * token, and reused until the token's own exp: the same answer without a signature check and payload parse on
 * every request. A failed verification is never remembered. API keys are not cached: revoking one takes effect
 * on the next request.
 */
export class Authenticator {
  private readonly verifiedTokens = new Map<string, VerifiedToken>();

  constructor(
    private readonly accessTokens: AccessTokens,
    private readonly apiKeys: ApiKeyRepository,
    private readonly oidc: OidcVerifier | undefined,
  ) {}

  async authenticate(credential: string): Promise<Principal> {
    if (credential.startsWith(API_KEY_PREFIX)) return this.apiKey(credential);
    const tokenHash = createHash('sha256').update(credential).digest('base64');
    const nowMs = Date.now();
    const verified = this.verifiedTokens.get(tokenHash);
    if (verified !== undefined) {
      if (nowMs < verified.validUntilMs) return verified.principal;
      this.verifiedTokens.delete(tokenHash);
    }
    let claims: { iss?: string; exp?: number };
    try {
      claims = decodeJwt(credential);
    } catch {
      throw new AuthenticationError('credential is neither an API key nor a JWT');
    }
    let principal: Principal;
    if (claims.iss === this.accessTokens.issuer) principal = await this.accessTokens.verify(credential);
    else if (this.oidc && claims.iss === this.oidc.issuer) principal = await this.oidc.verify(credential);
    else throw new AuthenticationError('token from an unknown issuer');
    // Only tokens with an expiry are remembered, and never beyond it.
    if (claims.exp !== undefined) {
      if (this.verifiedTokens.size >= VERIFIED_TOKENS_MAX) {
        this.verifiedTokens.delete(this.verifiedTokens.keys().next().value as string);
      }
      this.verifiedTokens.set(tokenHash, {
        principal,
        validUntilMs: Math.min(claims.exp * 1000, nowMs + VERIFIED_TOKEN_TTL_MS),
      });
    }
    return principal;
  }

  private async apiKey(key: string): Promise<Principal> {
    const record = await this.apiKeys.findActiveByHash(hashApiKey(key));
    if (!record) throw new AuthenticationError('unknown or revoked API key');
    await this.apiKeys.markUsed(record.id);
    return apiKeyPrincipal(record.id, record.societyId, record.scope);
  }
}
