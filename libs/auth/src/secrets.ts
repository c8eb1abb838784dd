import { createHash, randomBytes } from 'node:crypto';

/** Marks a refresh token, so a leaked one is recognisable by secret scanners. */
const REFRESH_TOKEN_PREFIX = 'hesrt_';

/** A new refresh token: 256 random bits. Only its hash is stored. */
export function generateRefreshToken(): string {
  return REFRESH_TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** SHA-256 hex: refresh tokens are random, not passwords, so a fast hash suffices and stays an indexed lookup key. */
export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
