import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import type { DecodeTask, DecodeTaskResult } from './decode-task';

/**
 * The compiled worker next to this module (dist, after `npm run build`), else the development entry that
 * compiles the TypeScript worker on load (running from sources, e.g. under jest).
 */
export function decodeWorkerFilename(directory = __dirname): string {
  const compiled = join(directory, 'decode.worker.js');
  return existsSync(compiled) ? compiled : join(directory, 'decode.worker.dev.js');
}

export interface DecodePoolOptions {
  threads: number;
  filename?: string;
}

/** The piscina pool that decrypts and decodes whole partition batches off the main thread. */
export class DecodePool {
  private readonly pool: Piscina<DecodeTask, DecodeTaskResult>;
  private readonly threadCount: number;
  private busyMs = 0;
  private sampledBusyMs = 0;
  private sampledAt = performance.now();

  constructor(options: DecodePoolOptions) {
    this.pool = new Piscina({
      filename: options.filename ?? decodeWorkerFilename(),
      minThreads: options.threads,
      maxThreads: options.threads,
      idleTimeout: 60_000,
    });
    this.threadCount = options.threads;
  }

  /** The buffers are transferred, not copied: the caller must not use `task`'s arrays afterwards. */
  async run(task: DecodeTask): Promise<DecodeTaskResult> {
    const result = await this.pool.run(task, {
      transferList: [task.telegrams.buffer, task.ends.buffer, task.keys.buffer, task.hasKey.buffer],
    });
    this.busyMs += result.decodeMs;
    return result;
  }

  /**
   * Share of the threads' time spent decoding since the previous call (0..1). Windowed rather than
   * piscina's lifetime average, so a gauge sampled every few seconds shows the current load.
   */
  sampleUtilisation(): number {
    const now = performance.now();
    const elapsed = now - this.sampledAt;
    const busy = this.busyMs - this.sampledBusyMs;
    this.sampledAt = now;
    this.sampledBusyMs = this.busyMs;
    return elapsed > 0 ? Math.min(1, busy / (elapsed * this.threadCount)) : 0;
  }

  /** Waits for running tasks to finish, then stops the threads. */
  close(): Promise<void> {
    return this.pool.close();
  }
}
