import { createHash, randomBytes } from 'node:crypto';

/** Marks a string as a HES gateway API key, so a leaked one is recognisable (e.g. by secret scanners). */
const API_KEY_PREFIX = 'hesgw_';

/** A new gateway API key: 32 random bytes (256 bits), base64url, with the HES prefix. Shown once, never stored. */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

/**
 * SHA-256 hex of an API key: what the database stores and the collector looks keys up by. API keys are
 * long random tokens, not passwords, so a fast hash is enough (there is no dictionary to brute-force)
 * and it can be an indexed lookup key.
 */
export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}
