import { startCollector } from './runtime';

/**
 * `node dist/apps/collector/src/main.js`: configured from the environment (see @hes/config and
 * collector-settings.ts). SIGTERM/SIGINT stop it gracefully; a second signal exits at once.
 */
async function main(): Promise<void> {
  const collector = await startCollector();
  const shutdown = (signal: NodeJS.Signals) => {
    process.once(signal, () => process.exit(1));
    collector.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`collector: shutdown failed: ${(error as Error).stack ?? String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  // Start-up errors (invalid configuration, database unreachable for migrations) name their cause.
  process.stderr.write(
    `collector: cannot start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
