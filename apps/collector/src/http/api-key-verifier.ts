import { hashApiKey } from '@hes/keys';

/** Looks up the active (not revoked) gateway holding an API key, by the key's hash. */
export interface GatewayCredentialSource {
  gatewayIdForKeyHash(apiKeyHash: string): Promise<string | undefined>;
}

interface CachedVerdict {
  gatewayId: string | undefined;
  expiresAt: number;
}

/**
 * Verifies gateway API keys, caching verdicts (by hash, never the key) for `cacheMs` so a gateway
 * posting every second costs one database query per minute; a revocation takes effect within that
 * time. Unknown keys are cached too, so a flood of bad keys does not become a flood of queries; the
 * cache is bounded, oldest verdict evicted first.
 */
export class ApiKeyVerifier {
  private readonly cache = new Map<string, CachedVerdict>();

  constructor(
    private readonly source: GatewayCredentialSource,
    private readonly options: { cacheMs: number; maxEntries: number; now?: () => number },
  ) {}

  async verify(apiKey: string): Promise<string | undefined> {
    const now = (this.options.now ?? Date.now)();
    const hash = hashApiKey(apiKey);
    const cached = this.cache.get(hash);
    if (cached && cached.expiresAt > now) return cached.gatewayId;
    const gatewayId = await this.source.gatewayIdForKeyHash(hash);
    this.cache.delete(hash);
    this.cache.set(hash, { gatewayId, expiresAt: now + this.options.cacheMs });
    if (this.cache.size > this.options.maxEntries) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    return gatewayId;
  }
}

/** The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function apiKeyFromHeaders(
  headers: Record<string, string | string[] | undefined>,
): string | undefined {
  const authorization = headers['authorization'];
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.trim().length > 0) return apiKey.trim();
  return undefined;
}
