import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HesMetrics, metricsHandler } from '@hes/metrics';
import type { DecryptorHealth } from './decryptor';

/**
 * The decryptor's small HTTP surface: GET /metrics (Prometheus text) and GET /health (200 when the database,
 * Kafka and the consumer are up — Redis down only degrades it, readings are still stored — 503 otherwise).
 * Plain node:http: the process is a stream worker, it serves no API that would need Nest.
 */
export function createDecryptorHttpServer(
  metrics: HesMetrics,
  health: () => Promise<DecryptorHealth>,
): Server {
  const serveMetrics = metricsHandler(metrics);
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      serveMetrics(req, res);
      return;
    }
    if (path === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
      health().then(
        (report) => {
          res.writeHead(report.status === 'unavailable' ? 503 : 200, {
            'Content-Type': 'application/json',
            'Cache-Control': 'no-store',
          });
          res.end(req.method === 'HEAD' ? undefined : JSON.stringify(report));
        },
        (error: unknown) => {
          res.writeHead(500, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ status: 'unavailable', error: (error as Error).message }));
        },
      );
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: `no route for ${req.method} ${path}` }));
  });
}

export function listen(server: Server, port: number, host = '0.0.0.0'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
