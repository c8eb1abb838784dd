import type { FastifyInstance } from 'fastify';
import type { Level, Logger } from 'pino';

/** A successful request taking at least this long is logged at info like a failed one. */
export const SLOW_REQUEST_MS = 500;

/**
 * The level of a request's log line. Writing one line per request cost about a tenth of the CPU of a fast
 * read (a JSON line and a write to stdout), and at thousands of latest-value reads per second the lines say
 * nothing the metrics do not; so successful requests faster than SLOW_REQUEST_MS are logged at debug (seen
 * with LOG_LEVEL=debug), while slow ones, client errors (401, 403, 404, 429, ...) and server errors stay
 * visible at the default level.
 */
export function requestLogLevel(statusCode: number, elapsedMs: number): Level {
  if (statusCode >= 500) return 'error';
  if (statusCode >= 400 || elapsedMs >= SLOW_REQUEST_MS) return 'info';
  return 'debug';
}

/**
 * One line per answered request at requestLogLevel, and one at error per request the client aborted before its
 * answer. Lines carry method, URL, status and time only, so credentials (headers, bodies) never reach the log.
 * Written from Fastify's hooks with the app's logger, without a child logger per request: at the usual levels
 * a fast success costs a level check and nothing else.
 */
export function logRequests(fastify: FastifyInstance, logger: Logger): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    const responseTime = reply.elapsedTime;
    const level = requestLogLevel(reply.statusCode, responseTime);
    if (logger.isLevelEnabled(level)) {
      logger[level](
        {
          req: { method: request.method, url: request.url },
          res: { statusCode: reply.statusCode },
          responseTime: Math.round(responseTime),
        },
        'request completed',
      );
    }
    done();
  });
  fastify.addHook('onRequestAbort', (request, done) => {
    logger.error({ req: { method: request.method, url: request.url } }, 'request aborted');
    done();
  });
}
