/** startApi from environment variables: migrates, listens, serves health and refuses production without a secret. */
import { createTestDatabase, uniqueName, type TestDatabase } from '@hes/testing';
import request from 'supertest';
import { startApi } from './runtime';

jest.setTimeout(60_000);

describe('startApi', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('hes_api_runtime');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('migrates the database at start-up and serves /health with the database, Redis and Kafka up', async () => {
    const api = await startApi({
      env: { DATABASE_URL: db.url, LOG_LEVEL: 'silent', API_JWT_SECRET: 'k'.repeat(40) },
      port: 0,
      rateLimitKeyPrefix: `${uniqueName('hes_api_runtime')}:`,
    });
    try {
      const health = await request(`http://127.0.0.1:${api.port}`).get('/health').expect(200);
      expect(health.body.status).toBe('ok');
      expect(health.body.checks.kafka).toEqual({ status: 'up' });
      await request(`http://127.0.0.1:${api.port}`).get('/api/v1/societies').expect(401);
    } finally {
      await api.stop();
    }
  });

  it('refuses to start in production without API_JWT_SECRET', async () => {
    await expect(
      startApi({
        env: {
          NODE_ENV: 'production',
          HES_MASTER_KEY: 'a'.repeat(64),
          DATABASE_URL: db.url,
          LOG_LEVEL: 'silent',
        },
        port: 0,
      }),
    ).rejects.toThrow('API_JWT_SECRET is required when NODE_ENV=production');
  });
});
