import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LevelWithSilent } from 'pino';
import { startTime } from 'pino-http';

/** A successful request taking at least this long is logged at info like a failed one. */
export const SLOW_REQUEST_MS = 500;

/**
 * The level of a request's log line. Writing one line per request cost about a tenth of the CPU of a fast
 * read (a JSON line and a write to stdout), and at thousands of latest-value reads per second the lines say
 * nothing the metrics do not; so successful requests faster than SLOW_REQUEST_MS are logged at debug (seen
 * with LOG_LEVEL=debug), while slow ones, client errors (401, 403, 404, 429, ...) and server errors stay
 * visible at the default level.
 */
export function requestLogLevel(
  _request: IncomingMessage,
  response: ServerResponse & { [startTime]?: number },
  error?: Error,
): LevelWithSilent {
  if (error !== undefined || response.statusCode >= 500) return 'error';
  if (response.statusCode >= 400) return 'info';
  const startedMs = response[startTime];
  if (startedMs !== undefined && Date.now() - startedMs >= SLOW_REQUEST_MS) return 'info';
  return 'debug';
}
