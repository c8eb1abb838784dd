/**
 * Authentication failed: missing, malformed, expired, revoked or unknown credentials. The message is safe to
 * show to the client (it never contains the credential); the guard answers it with 401.
 */
export class AuthenticationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthenticationError';
  }
}
