import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';

/** A child process started by the bench, with its output in a log file. */
export class BenchProcess {
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? null : 0);
        resolve(this.exitCode);
      });
    });
  }

  /** Runs `node [nodeArgs] <script> <args>` with stdout and stderr appended to `logFile` (stdout piped when asked). */
  static start(
    name: string,
    script: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    logFile: string,
    options: { pipeStdout?: boolean; nodeArgs?: string[] } = {},
  ): BenchProcess {
    const log = openSync(logFile, 'a');
    try {
      const child = spawn(process.execPath, [...(options.nodeArgs ?? []), script, ...args], {
        env,
        stdio: ['ignore', options.pipeStdout ? 'pipe' : log, log],
      });
      return new BenchProcess(name, child);
    } finally {
      closeSync(log);
    }
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} did not start`);
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null when killed by a signal). */
  async stop(graceMs = 45_000): Promise<number | null> {
    if (!this.running) return this.exitCode ?? null;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Polls `url` until it answers 200, the process exits, or the timeout passes. */
export async function waitForHttpOk(url: string, process: BenchProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (!process.running) throw new Error(`${process.name} exited before ${url} answered (see its log)`);
    try {
      const response = await fetch(url);
      if (response.status === 200) return;
      last = `HTTP ${response.status}: ${(await response.text()).slice(0, 300)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`${url} not healthy after ${timeoutMs} ms (${last})`);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
