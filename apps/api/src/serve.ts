import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { loadConfig, type HesConfig } from '@hes/config';
import { createPool } from '@hes/storage';
import pino from 'pino';
import { ApiClusterPrimary, clusterWorkerNumber, onStopRequest } from './cluster';
import { migrateApiDatabase, migrateOnStart, startApi, type RunningApi } from './runtime';

export interface ServeApiOptions {
  /** Overrides API_PORT; 0 picks a free port (shared by all workers). */
  port?: number;
  /** Called in the process that was started (not in cluster workers) once the API, every worker of it, listens. */
  onListening?(port: number): void;
}

/**
 * Runs the API as a deployable process, configured from the environment: one process when API_WORKERS is 1,
 * otherwise a node:cluster primary (this same entry point) forking API_WORKERS workers. SIGTERM/SIGINT stop it
 * gracefully and exit 0 (1 if stopping failed); a second signal exits at once.
 */
export async function serveApi(options: ServeApiOptions = {}): Promise<void> {
  if (cluster.isWorker) {
    await serveWorker(options);
    return;
  }
  const config = loadConfig(process.env);
  if (config.api.workers > 1) await servePrimary(config, options);
  else await serveWorker(options);
}

/**
 * A single API process or one cluster worker. A stop asked for while it is still starting takes effect once it
 * has started, so its connections are closed in order.
 */
async function serveWorker(options: ServeApiOptions): Promise<void> {
  const clusterWorker = cluster.isWorker ? clusterWorkerNumber(process.env) : undefined;
  // Set once started; the signal handlers installed before then read it.
  const running: { api?: RunningApi } = {};
  let stopRequested = false;
  const stop = () => {
    running.api!.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`api: shutdown failed: ${(error as Error).stack ?? String(error)}\n`);
        process.exit(1);
      },
    );
  };
  const requestStop = () => {
    if (stopRequested) return;
    stopRequested = true;
    if (running.api) stop();
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const)
    process.on(signal, () => (stopRequested ? process.exit(1) : requestStop()));
  // The primary's stop message; with Ctrl-C in a terminal the worker also gets SIGINT itself, and that one stop
  // is not taken for a second signal.
  if (clusterWorker !== undefined) onStopRequest(requestStop);
  running.api = await startApi({ port: options.port, clusterWorker });
  if (stopRequested) stop();
  else if (clusterWorker === undefined) options.onListening?.(running.api.port);
}

async function servePrimary(config: HesConfig, options: ServeApiOptions): Promise<void> {
  const logger = pino({ level: config.logLevel, base: { app: 'api', role: 'primary' } });
  const workerEnv: Record<string, string> = {};
  // One random secret for all workers, or a token issued by one would be refused by the others. Production has
  // no fallback: each worker refuses to start without API_JWT_SECRET.
  if (!config.api.jwt.secret && config.nodeEnv !== 'production') {
    workerEnv.API_JWT_SECRET = randomBytes(32).toString('base64url');
    logger.warn('API_JWT_SECRET not set: the workers share a random secret, sessions end at restart');
  }
  const primary = new ApiClusterPrimary({ workers: config.api.workers, logger, workerEnv });
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const)
    process.on(signal, () => {
      if (stopping) {
        primary.kill();
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'stopping the api workers');
      void primary.stop().then((code) => process.exit(code));
    });
  // Once, here, rather than concurrently in every worker.
  if (migrateOnStart(process.env)) {
    const pool = createPool(config.database.url, { applicationName: 'hes-api' });
    try {
      await migrateApiDatabase(pool, config, logger);
    } finally {
      await pool.end();
    }
  }
  if (stopping) return;
  const port = await primary.start();
  options.onListening?.(port);
}
