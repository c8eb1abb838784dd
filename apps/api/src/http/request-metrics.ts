import type { FastifyInstance } from 'fastify';
import { Histogram, type Registry } from 'prom-client';

/** Up to 10 s: the slowest answers are society-wide consumption exports. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * `hes_api_request_duration_seconds{method, route, status}`: every answered request, timed by Fastify from
 * arrival to the answer's last byte. The label is the route's pattern (`/api/v1/meters/:id/latest`), not the URL,
 * so the number of series stays bounded; requests that match no route count as `unmatched`. This is what the
 * request log leaves to the metrics: fast successes are not logged, but their rates and latencies are here.
 */
export function recordRequestMetrics(fastify: FastifyInstance, registry: Registry): void {
  const durations = new Histogram({
    name: 'hes_api_request_duration_seconds',
    help: 'HTTP requests answered by the API, by method, route pattern and status code; time from arrival to the answer.',
    labelNames: ['method', 'route', 'status'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    durations.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
    done();
  });
}
