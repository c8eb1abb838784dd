import type { ApiKeyScope } from '@hes/auth';
import { hashApiKey } from '@hes/keys';

/**
 * Who holds an API key: a registered gateway (the `gateways` table), or a society API key (the `api_keys` table
 * the API manages) with its scope. Only gateways and society keys with the ingest scope may post telegrams.
 */
export type DeviceCredential =
  | { kind: 'gateway'; id: string }
  | { kind: 'society_api_key'; id: string; societyId: string; scope: ApiKeyScope };

/** Looks up the active (not revoked) holder of an API key, by the key's hash. */
export interface GatewayCredentialSource {
  credentialForKeyHash(apiKeyHash: string): Promise<DeviceCredential | undefined>;
}

interface CachedVerdict {
  credential: DeviceCredential | undefined;
  expiresAt: number;
}

export interface Verdict {
  /** undefined: no active gateway or society key has this key. */
  credential: DeviceCredential | undefined;
  /** Looked up now rather than answered from the cache: at most once per key per cache period. */
  fresh: boolean;
}

/**
 * Verifies API keys, caching verdicts (by hash, never the key) for `cacheMs` so a gateway posting every second
 * costs one database query per minute; a revocation takes effect within that time. Unknown keys are cached too,
 * so a flood of bad keys does not become a flood of queries; the cache is bounded, oldest verdict evicted first.
 */
export class ApiKeyVerifier {
  private readonly cache = new Map<string, CachedVerdict>();

  constructor(
    private readonly source: GatewayCredentialSource,
    private readonly options: { cacheMs: number; maxEntries: number; now?: () => number },
  ) {}

  async verify(apiKey: string): Promise<Verdict> {
    const now = (this.options.now ?? Date.now)();
    const hash = hashApiKey(apiKey);
    const cached = this.cache.get(hash);
    if (cached && cached.expiresAt > now) return { credential: cached.credential, fresh: false };
    const credential = await this.source.credentialForKeyHash(hash);
    this.cache.delete(hash);
    this.cache.set(hash, { credential, expiresAt: now + this.options.cacheMs });
    if (this.cache.size > this.options.maxEntries) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    return { credential, fresh: true };
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
