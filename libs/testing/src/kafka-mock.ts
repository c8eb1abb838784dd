import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repoRoot = resolve(__dirname, '../../..');

/** A private Kafka mock cluster started by a test (the shared one from local-stack.sh is left alone). */
export interface KafkaMockProcess {
  /** `host:port` of every broker, for `new Kafka({ brokers })`. */
  readonly brokers: string[];
  readonly pid: number;
  /** SIGTERM, then wait for the process to exit. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL, for crash tests. */
  kill(): Promise<void>;
}

export interface KafkaMockOptions {
  /** 1 (default) or more brokers on consecutive ports. */
  brokerCount?: number;
  /** First port; by default a free port range is picked. */
  port?: number;
  /** Milliseconds to wait for the listeners; default 15000 (the launcher is built first if needed, which can take 90 s). */
  startTimeoutMs?: number;
}

/** Path of the launcher executable, building it (cached outside the clone) on first use. */
export function kafkaMockLauncherPath(): string {
  return execFileSync('bash', [join(repoRoot, 'scripts/kafka-mock/build.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePort(true)));
  });
}

/** A start port such that `count` consecutive ports are free right now, chosen from 20000-29999. */
export async function findFreePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const start = 20000 + Math.floor(Math.random() * (10000 - count));
    const checks = await Promise.all(Array.from({ length: count }, (_, i) => portIsFree(start + i)));
    if (checks.every(Boolean)) return start;
  }
  throw new Error(`findFreePortRange: no ${count} consecutive free ports found in 20000-29999`);
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveExit) => child.once('exit', () => resolveExit()));
}

export async function startKafkaMock(options: KafkaMockOptions = {}): Promise<KafkaMockProcess> {
  const brokerCount = options.brokerCount ?? 1;
  const launcher = kafkaMockLauncherPath();
  const port = options.port ?? (await findFreePortRange(brokerCount));
  const workDir = mkdtempSync(join(tmpdir(), 'hes-kafka-mock-'));
  const bootstrapFile = join(workDir, 'bootstrap');
  const child = spawn(
    launcher,
    ['--brokers', String(brokerCount), '--port', String(port), '--bootstrap-file', bootstrapFile],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

  const deadline = Date.now() + (options.startTimeoutMs ?? 15000);
  while (!existsSync(bootstrapFile)) {
    if (child.exitCode !== null) {
      rmSync(workDir, { recursive: true, force: true });
      throw new Error(`kafka-mock exited with code ${child.exitCode}: ${stderr.trim()}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(workDir, { recursive: true, force: true });
      throw new Error(`kafka-mock did not start listening on port ${port} in time: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const brokers = readFileSync(bootstrapFile, 'utf8').trim().split(',');

  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await waitForExit(child);
    rmSync(workDir, { recursive: true, force: true });
  };
  return { brokers, pid: child.pid as number, stop: () => end('SIGTERM'), kill: () => end('SIGKILL') };
}
