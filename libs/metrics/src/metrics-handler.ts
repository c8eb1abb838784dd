import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HesMetrics } from './hes-metrics';

/**
 * A plain node:http handler serving the Prometheus text format on GET (and HEAD), for processes without
 * Nest (e.g. a decryptor's small health/metrics server). Other methods get 405.
 */
export function metricsHandler(metrics: HesMetrics): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    metrics.scrape().then(
      (body) => {
        res.writeHead(200, { 'Content-Type': metrics.contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (error: unknown) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`metrics collection failed: ${error instanceof Error ? error.message : String(error)}`);
      },
    );
  };
}
