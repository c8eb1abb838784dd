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

/** Marks an invitation token (the one-time secret a society admin passes on to the invited person). */
const INVITATION_TOKEN_PREFIX = 'hesinv_';

/** A new invitation token: 256 random bits. Shown once to the inviting admin; only its hash is stored. */
export function generateInvitationToken(): string {
  return INVITATION_TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** SHA-256 hex, as for refresh tokens: a random token needs no slow hash, and the hash is the lookup key. */
export function hashInvitationToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
