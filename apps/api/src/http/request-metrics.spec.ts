import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { recordRequestMetrics } from './request-metrics';

describe('recordRequestMetrics', () => {
  it('counts answered requests by method, route pattern and status, with their durations', async () => {
    const registry = new Registry();
    const app = Fastify();
    recordRequestMetrics(app, registry);
    app.get('/meters/:id/latest', async () => ({ ok: true }));
    app.get('/slow', async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      return 'done';
    });
    for (const url of ['/meters/A1/latest', '/meters/B2/latest', '/slow', '/nowhere'])
      await app.inject({ url });
    await app.close();

    const histogram = (await registry.getMetricsAsJSON()).find(
      (metric) => metric.name === 'hes_api_request_duration_seconds',
    ) as unknown as {
      values: { labels: Record<string, string | number>; value: number; metricName?: string }[];
    };
    const count = (route: string, status: string) =>
      histogram.values.find(
        (value) =>
          value.metricName === 'hes_api_request_duration_seconds_count' &&
          value.labels.route === route &&
          value.labels.status === status,
      )?.value;
    expect(count('/meters/:id/latest', '200')).toBe(2);
    expect(count('/slow', '200')).toBe(1);
    expect(count('unmatched', '404')).toBe(1);
    const slowUnder25ms = histogram.values.find(
      (value) =>
        value.metricName === 'hes_api_request_duration_seconds_bucket' &&
        value.labels.route === '/slow' &&
        value.labels.le === 0.025,
    )?.value;
    expect(slowUnder25ms).toBe(0);
  });
});
