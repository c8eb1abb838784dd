import pino from 'pino';
import { ReadingCache } from '@hes/cache';
import { loadConfig } from '@hes/config';
import { HesMetrics } from '@hes/metrics';
import { Decryptor } from './decryptor';
import { loadDecryptorSettings } from './decryptor-settings';
import { closeServer, createDecryptorHttpServer, listen } from './http-server';

/**
 * Decryptor process: `node dist/apps/decryptor/src/main.js`. Configuration from the environment (see
 * @hes/config and decryptor-settings.ts); JSON logs on stdout. SIGTERM/SIGINT stop it gracefully: batches in
 * flight finish and commit (or are left uncommitted for redelivery), then the pool and connections close.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const settings = loadDecryptorSettings(process.env);
  const logger = pino({ level: config.logLevel, base: { app: 'decryptor', pid: process.pid } });
  const metrics = new HesMetrics({ app: 'decryptor' });
  const cache = new ReadingCache({
    url: config.redis.url,
    maxReadingsPerCall: settings.cacheReadingsPerCall,
    onMiss: (operation, count) => metrics.cacheMisses.inc({ operation }, count),
  });
  if (!(await cache.connect()))
    logger.warn('Redis unavailable at start; readings are stored and the cache catches up later');

  const decryptor = await Decryptor.start({ config, settings, logger, metrics, cache });
  const server = createDecryptorHttpServer(metrics, () => decryptor.health());
  const port = await listen(server, config.ports.decryptor);
  logger.info({ port }, 'metrics and health listening');

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs: settings.shutdownTimeoutMs }, 'graceful stop timed out; exiting');
      process.exit(1);
    }, settings.shutdownTimeoutMs);
    deadline.unref();
    Promise.all([decryptor.stop(), closeServer(server)]).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: (error as Error).message }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  // Configuration errors name variables, never values of secrets (ConfigError, SecretKey redaction).
  process.stderr.write(
    `${JSON.stringify({ level: 'fatal', app: 'decryptor', msg: (error as Error).message })}\n`,
  );
  process.exit(1);
});
