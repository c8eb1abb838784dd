import { checkHealth } from './health';

describe('checkHealth', () => {
  it('is ok when every probe resolves', async () => {
    const report = await checkHealth({ database: async () => undefined, redis: async () => undefined });
    expect(report).toEqual({ status: 'ok', checks: { database: { status: 'up' }, redis: { status: 'up' } } });
  });

  it('is unavailable and names the failing dependency with its reason, the others still up', async () => {
    const report = await checkHealth({
      database: async () => undefined,
      kafka: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:9092');
      },
    });
    expect(report).toEqual({
      status: 'unavailable',
      checks: {
        database: { status: 'up' },
        kafka: { status: 'down', error: 'connect ECONNREFUSED 127.0.0.1:9092' },
      },
    });
  });

  it('counts a probe that never answers as down after the timeout', async () => {
    const started = Date.now();
    const report = await checkHealth({ mqtt: () => new Promise<void>(() => undefined) });
    expect(report).toEqual({
      status: 'unavailable',
      checks: { mqtt: { status: 'down', error: 'no answer within 2000 ms' } },
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_990);
  });

  it('is ok with no dependencies to check', async () => {
    expect(await checkHealth({})).toEqual({ status: 'ok', checks: {} });
  });
});
