import { startApi } from './runtime';

/**
 * `node dist/apps/api/src/main.js`: configured from the environment (see @hes/config). SIGTERM/SIGINT stop it
 * gracefully; a second signal exits at once.
 */
async function main(): Promise<void> {
  const api = await startApi();
  const shutdown = (signal: NodeJS.Signals) => {
    process.once(signal, () => process.exit(1));
    api.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`api: shutdown failed: ${(error as Error).stack ?? String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  process.stderr.write(`api: cannot start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
