/**
 * The API with its rate-limit Redis gone: requests are answered (not 500) and still limited, per instance, and
 * the fallbacks show on /metrics.
 */
import { createUser, login, startHarness } from '../test-harness';

jest.setTimeout(60_000);

describe('API rate limits while Redis is down', () => {
  it('keeps answering and limiting, and counts the fallbacks', async () => {
    const harness = await startHarness({ rateLimits: { requestsPerMinute: 3, loginAttemptsPerMinute: 100 } });
    try {
      await createUser(harness.pool, 'root@example.org', [{ societyId: null, role: 'platform_admin' }]);
      const { accessToken } = await login(harness, 'root@example.org');
      harness.redis.disconnect();
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        statuses.push(
          (await harness.http().get('/api/v1/societies').auth(accessToken, { type: 'bearer' })).status,
        );
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
      const metrics = (await harness.http().get('/metrics').expect(200)).text;
      const fallbacks = /^hes_rate_limit_fallbacks_total\{app="api"\} (\d+)$/m.exec(metrics);
      expect(Number(fallbacks?.[1])).toBeGreaterThanOrEqual(4);
    } finally {
      // The harness removes its rate-limit keys through this client when it closes.
      await harness.redis.connect();
      await harness.close();
    }
  });
});
