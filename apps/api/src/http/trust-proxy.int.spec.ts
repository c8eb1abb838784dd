/**
 * The client address in the audit log and the rate limiter: the socket's peer by default, whatever
 * X-Forwarded-For claims; the forwarded address only when the API is told to trust the proxy in front of it.
 */
import { startHarness } from '../test-harness';

jest.setTimeout(60_000);

type Harness = Awaited<ReturnType<typeof startHarness>>;

async function failedLogin(harness: Harness, forwardedFor: string): Promise<number> {
  const response = await harness
    .http()
    .post('/api/v1/auth/login')
    .set('X-Forwarded-For', forwardedFor)
    .send({ email: 'nobody@example.org', password: 'wrong password' });
  return response.status;
}

async function auditedAddresses(harness: Harness): Promise<string[]> {
  const result = await harness.pool.query<{ ip: string }>(
    `SELECT ip FROM audit_log WHERE action = 'auth.login_failed' ORDER BY id`,
  );
  return result.rows.map((row) => row.ip);
}

describe('trust proxy', () => {
  const rateLimits = { requestsPerMinute: 1000, loginAttemptsPerMinute: 2 };

  it('ignores X-Forwarded-For by default: the audit log and the login limit see the peer', async () => {
    const harness = await startHarness({ rateLimits });
    try {
      expect(await failedLogin(harness, '203.0.113.7')).toBe(401);
      expect(await failedLogin(harness, '203.0.113.8')).toBe(401);
      // A client cannot escape the limit by inventing a new forwarded address per attempt.
      expect(await failedLogin(harness, '203.0.113.9')).toBe(429);
      const addresses = await auditedAddresses(harness);
      expect(addresses).toHaveLength(2);
      for (const address of addresses) expect(address).toMatch(/^(::ffff:)?127\.0\.0\.1$|^::1$/);
    } finally {
      await harness.close();
    }
  });

  it('uses the forwarded client address behind a trusted proxy', async () => {
    const harness = await startHarness({ rateLimits, trustProxy: ['loopback'] });
    try {
      expect(await failedLogin(harness, '203.0.113.7')).toBe(401);
      expect(await failedLogin(harness, '203.0.113.7')).toBe(401);
      expect(await failedLogin(harness, '203.0.113.7')).toBe(429);
      // Another client behind the same proxy has a limit of its own.
      expect(await failedLogin(harness, '198.51.100.20')).toBe(401);
      // The proxy passes on what the client claimed: only the address the trusted proxy saw counts.
      expect(await failedLogin(harness, '10.9.9.9, 198.51.100.21')).toBe(401);
      expect(await auditedAddresses(harness)).toEqual([
        '203.0.113.7',
        '203.0.113.7',
        '198.51.100.20',
        '198.51.100.21',
      ]);
    } finally {
      await harness.close();
    }
  });
});
