import { serveApi } from './serve';

/**
 * `node dist/apps/api/src/main.js`: configured from the environment (see @hes/config); API_WORKERS > 1 runs a
 * node:cluster primary with that many workers. SIGTERM/SIGINT stop it gracefully; a second signal exits at once.
 */
serveApi().catch((error: unknown) => {
  process.stderr.write(`api: cannot start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
