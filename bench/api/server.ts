import { serveApi } from '../../apps/api/src/serve';

/**
 * The real API as the bench's system under test, in its own process: configured from the environment like a
 * deployment (DATABASE_URL, REDIS_URL, API_RATE_LIMIT_PER_MINUTE, API_WORKERS, ...), listening on a free port
 * (shared by all workers when API_WORKERS > 1), which it prints as one JSON line `{"port":n}` on stdout.
 * SIGTERM stops it.
 */
serveApi({
  port: 0,
  onListening: (port) => process.stdout.write(`${JSON.stringify({ port })}\n`),
}).catch((error: unknown) => {
  process.stderr.write(`api bench server failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
