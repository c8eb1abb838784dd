import { startApi } from '../../apps/api/src/runtime';

/**
 * The real API as the bench's system under test, in its own process: configured from the environment like a
 * deployment (DATABASE_URL, REDIS_URL, API_RATE_LIMIT_PER_MINUTE, ...), listening on a free port, which it
 * prints as one JSON line `{"port":n}` on stdout. SIGTERM stops it.
 */
async function main(): Promise<void> {
  const api = await startApi({ port: 0 });
  process.stdout.write(`${JSON.stringify({ port: api.port })}\n`);
  process.once('SIGTERM', () => {
    api.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`api bench server failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
