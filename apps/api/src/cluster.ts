import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { isMessageOfType, serveClusterMetrics } from '@hes/metrics';
import type { Logger } from 'pino';

/** Tells a forked worker its number, 1..API_WORKERS (its /metrics label and log field). */
export const WORKER_NUMBER_VARIABLE = 'HES_API_WORKER';
/** The primary's IPC message asking a worker to stop gracefully (api.stop(), then exit). */
export const STOP_MESSAGE = 'hes:api:stop';

/** Back-off before replacing a worker that died: doubles per death in a row, from 1 s up to 30 s. */
const FIRST_RESTART_DELAY_MS = 1000;
const MAX_RESTART_DELAY_MS = 30_000;
/** A worker that served this long before dying was not crash-looping: its replacement waits the first delay again. */
const STABLE_AFTER_MS = 60_000;

/** The worker number the primary gave this process. */
export function clusterWorkerNumber(env: NodeJS.ProcessEnv): number {
  const raw = env[WORKER_NUMBER_VARIABLE];
  const number = Number(raw);
  if (!Number.isInteger(number) || number < 1)
    throw new Error(`${WORKER_NUMBER_VARIABLE}: '${raw}' is not a worker number (1 or more)`);
  return number;
}

/** Calls `listener` when the primary asks this worker to stop. */
export function onStopRequest(listener: () => void): void {
  process.on('message', (message: unknown) => {
    if (isMessageOfType(message, STOP_MESSAGE)) listener();
  });
}

interface WorkerSlot {
  readonly number: number;
  worker?: Worker;
  forkedAt: number;
  listening: boolean;
  /** Deaths in a row of this slot's workers, each without having served for STABLE_AFTER_MS. */
  failures: number;
  restart?: NodeJS.Timeout;
}

export interface ApiClusterOptions {
  workers: number;
  logger: Logger;
  /** Variables every worker gets on top of the primary's environment. */
  workerEnv?: Record<string, string>;
}

/**
 * The node:cluster primary of API_WORKERS > 1: forks the workers, which each run startApi() on the shared port
 * (node:cluster hands accepted connections to them in turn), replaces a worker that dies with a back-off,
 * answers the workers' /metrics with the sum over all of them, and stops them all gracefully. It serves no
 * requests itself; the database is migrated before start() (workers are forked with API_MIGRATE_ON_START=false).
 */
export class ApiClusterPrimary {
  private readonly slots: WorkerSlot[];
  private stopping = false;
  private stopped: Promise<number> | undefined;
  private startup: { resolve(port: number): void; reject(error: Error): void } | undefined;
  private workerFailedToStop = false;
  private allExited: (() => void) | undefined;
  private stopServingMetrics: (() => void) | undefined;

  constructor(private readonly options: ApiClusterOptions) {
    this.slots = Array.from({ length: options.workers }, (_, i) => ({
      number: i + 1,
      forkedAt: 0,
      listening: false,
      failures: 0,
    }));
  }

  /** Forks every worker; resolves with the port once all listen, rejects (after stopping the rest) if one dies first. */
  start(): Promise<number> {
    this.stopServingMetrics = serveClusterMetrics();
    cluster.on('listening', this.onListening);
    cluster.on('exit', this.onExit);
    return new Promise<number>((resolve, reject) => {
      this.startup = { resolve, reject };
      for (const slot of this.slots) this.fork(slot);
    });
  }

  /**
   * Asks every worker to stop gracefully and resolves once all have exited: 0 when each exited with 0, else 1.
   * No worker is replaced from then on.
   */
  stop(): Promise<number> {
    this.stopped ??= new Promise<number>((resolve) => {
      this.stopping = true;
      for (const slot of this.slots) clearTimeout(slot.restart);
      const finish = () => {
        this.stopServingMetrics?.();
        cluster.off('listening', this.onListening);
        cluster.off('exit', this.onExit);
        this.options.logger.info('api stopped');
        resolve(this.workerFailedToStop ? 1 : 0);
      };
      const running = this.slots.flatMap((slot) => slot.worker ?? []);
      if (running.length === 0) {
        finish();
        return;
      }
      this.allExited = finish;
      for (const worker of running) {
        if (worker.isConnected()) worker.send({ type: STOP_MESSAGE });
        else worker.process.kill('SIGTERM');
      }
    });
    return this.stopped;
  }

  /** Ends every worker at once (the second signal). */
  kill(): void {
    for (const slot of this.slots) slot.worker?.process.kill('SIGKILL');
  }

  private fork(slot: WorkerSlot): void {
    slot.worker = cluster.fork({
      ...this.options.workerEnv,
      [WORKER_NUMBER_VARIABLE]: String(slot.number),
      API_MIGRATE_ON_START: 'false',
    });
    slot.forkedAt = Date.now();
    slot.listening = false;
  }

  private slotOf(worker: Worker): WorkerSlot | undefined {
    return this.slots.find((slot) => slot.worker === worker);
  }

  private readonly onListening = (worker: Worker, address: AddressInfo | { port: number }) => {
    const slot = this.slotOf(worker);
    if (!slot) return;
    slot.listening = true;
    this.options.logger.info(
      { worker: slot.number, pid: worker.process.pid, port: address.port },
      'api worker listening',
    );
    if (this.startup && this.slots.every((s) => s.listening)) {
      this.options.logger.info({ port: address.port, workers: this.slots.length }, 'api listening');
      this.startup.resolve(address.port);
      this.startup = undefined;
    }
  };

  private readonly onExit = (worker: Worker, code: number | null, signal: string | null) => {
    const slot = this.slotOf(worker);
    if (!slot) return;
    slot.worker = undefined;
    const exit = { worker: slot.number, pid: worker.process.pid, code, signal };
    if (this.stopping) {
      if (code !== 0) {
        this.workerFailedToStop = true;
        this.options.logger.error(exit, 'api worker did not stop cleanly');
      }
      if (this.slots.every((s) => s.worker === undefined)) this.allExited?.();
      return;
    }
    if (this.startup) {
      const { reject } = this.startup;
      this.startup = undefined;
      this.options.logger.error(exit, 'api worker exited while starting: stopping the others');
      const error = new Error(
        `API worker ${slot.number} exited ${signal ? `on ${signal}` : `with code ${code}`} before listening`,
      );
      void this.stop().then(() => reject(error));
      return;
    }
    if (slot.listening && Date.now() - slot.forkedAt >= STABLE_AFTER_MS) slot.failures = 0;
    const delayMs = Math.min(FIRST_RESTART_DELAY_MS * 2 ** slot.failures, MAX_RESTART_DELAY_MS);
    slot.failures += 1;
    this.options.logger.error(
      { ...exit, restartInMs: delayMs },
      'api worker exited unexpectedly: replacing it',
    );
    slot.restart = setTimeout(() => {
      slot.restart = undefined;
      if (!this.stopping) this.fork(slot);
    }, delayMs);
  };
}
