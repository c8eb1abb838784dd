import { hash, verify } from '@node-rs/argon2';
import { randomBytes } from 'node:crypto';

/**
 * Argon2id with the library defaults (19 MiB memory, 2 passes, OWASP's recommended minimum), PHC-encoded so
 * the parameters travel with each hash and can be raised later without breaking stored ones.
 */
export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

/** A hash of a random password, verified against when the user does not exist so both paths cost the same. */
let decoyHash: Promise<string> | undefined;

/**
 * True when `password` matches `passwordHash`. With no hash (unknown user, or a user without a password) it
 * still spends one Argon2 verification and answers false, so response times do not reveal which emails exist.
 */
export async function verifyPassword(
  password: string,
  passwordHash: string | null | undefined,
): Promise<boolean> {
  if (!passwordHash) {
    decoyHash ??= hash(randomBytes(32).toString('base64url'));
    await verify(await decoyHash, password);
    return false;
  }
  try {
    return await verify(passwordHash, password);
  } catch {
    // A malformed stored hash is a failed login, not a server error.
    return false;
  }
}

/** Passwords of at least 12 and at most 256 characters (the upper bound keeps hashing cost bounded). */
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;
