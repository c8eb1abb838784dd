import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { Client } from 'pg';
import { buildEntryPoints, findFreePortRange } from '@hes/testing';

/**
 * Private service instances for the failure tests: a PostgreSQL cluster, a redis-server and node processes
 * of the deployables, all started and stopped by the test itself so that stopping one never disturbs the
 * shared local stack other test files use at the same time.
 */

export const REPO_ROOT = resolve(__dirname, '../../../..');
const PG_BIN = process.env.HES_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const LOG_TAIL_LINES = 60;

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

/** Polls until `condition` holds; the failure names what was awaited and adds `context()` (process logs). */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; intervalMs?: number; context?: () => string } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await condition()) return;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    await sleep(options.intervalMs ?? 250);
  }
  const cause = lastError ? ` (last error: ${(lastError as Error).message})` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}${options.context?.() ?? ''}`);
}

/** The last lines written by a process, kept bounded so a long load does not grow memory. */
class OutputTail {
  private readonly lines: string[] = [];
  private partial = '';

  push(chunk: Buffer | string): void {
    const text = this.partial + chunk.toString();
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts);
    if (this.lines.length > LOG_TAIL_LINES * 4) this.lines.splice(0, this.lines.length - LOG_TAIL_LINES);
  }

  text(): string {
    return [...this.lines.slice(-LOG_TAIL_LINES), this.partial].join('\n');
  }
}

/**
 * `runuser -u postgres` when running as root (initdb and postgres refuse root), plain otherwise. The data
 * directory must then belong to that user.
 */
function asClusterOwner(command: string, args: string[]): [string, string[]] {
  if (process.getuid?.() === 0) return ['runuser', ['-u', 'postgres', '--', command, ...args]];
  return [command, args];
}

function run(command: string, args: string[]): string {
  const [file, argv] = asClusterOwner(command, args);
  try {
    return execFileSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${command} ${args.join(' ')} failed: ${failed.stderr || failed.stdout || failed.message}`,
      { cause: error },
    );
  }
}

/**
 * A PostgreSQL 15 cluster of its own: initdb into a temporary directory, trust authentication on
 * 127.0.0.1 and a free port, fsync on (durability is what the failure tests check). `stop` and `start`
 * take the server down and bring it back on the same port and data, as an outage would.
 */
export class PrivatePostgres {
  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {}

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  private get logFile(): string {
    return join(this.dir, 'server.log');
  }

  static async create(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'hes-failure-pg-'));
    if (process.getuid?.() === 0) chownSync(dir, uidOf('postgres'), gidOf('postgres'));
    // --no-sync only skips syncing initdb's own files; the running server keeps fsync on.
    run(join(PG_BIN, 'initdb'), [
      '-D',
      join(dir, 'data'),
      '-A',
      'trust',
      '-U',
      'postgres',
      '-E',
      'UTF8',
      '--no-sync',
    ]);
    const cluster = new PrivatePostgres(dir, await findFreePortRange(1));
    await cluster.start();
    return cluster;
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async createDatabase(name: string): Promise<string> {
    const client = new Client({ connectionString: this.url() });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    return this.url(name);
  }

  async start(): Promise<void> {
    const options = [
      `-p ${this.port}`,
      `-k ${this.dir}`,
      '-c listen_addresses=127.0.0.1',
      '-c fsync=on',
      '-c max_connections=60',
    ].join(' ');
    run(join(PG_BIN, 'pg_ctl'), [
      '-D',
      this.dataDir,
      '-o',
      options,
      '-l',
      this.logFile,
      '-w',
      '-t',
      '60',
      'start',
    ]);
  }

  /** `pg_ctl stop -m fast`: sessions are cut, in-flight transactions roll back. */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    run(join(PG_BIN, 'pg_ctl'), ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
  }

  get running(): boolean {
    return existsSync(join(this.dataDir, 'postmaster.pid'));
  }

  logTail(): string {
    if (!existsSync(this.logFile)) return '';
    return readFileSync(this.logFile, 'utf8').split('\n').slice(-LOG_TAIL_LINES).join('\n');
  }

  async destroy(): Promise<void> {
    if (this.running) await this.stop('immediate').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function uidOf(user: string): number {
  return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
}

function gidOf(user: string): number {
  return Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
}

/** A redis-server of its own (no persistence: the cache is rebuilt from storage, never the source of truth). */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  private readonly output = new OutputTail();

  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {}

  static async create(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(
      mkdtempSync(join(tmpdir(), 'hes-failure-redis-')),
      await findFreePortRange(1),
    );
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.dir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (chunk: Buffer) => this.output.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => this.output.push(chunk));
    this.child = child;
    await waitFor(
      'redis-server to accept connections',
      () => this.output.text().includes('Ready to accept connections'),
      {
        timeoutMs: 15_000,
        intervalMs: 50,
        context: () => `\nredis-server output:\n${this.output.text()}`,
      },
    );
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child) await endProcess(child, 'SIGTERM');
  }

  async destroy(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child) await endProcess(child, 'SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function endProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveExit) => {
    child.once('exit', () => resolveExit());
    child.kill(signal);
  });
}

/** A deployable running as its own node process, with its output kept for failure messages. */
export class NodeProcess {
  private readonly output = new OutputTail();
  private readonly messages: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolveExit) =>
      child.once('exit', (code, signal) => resolveExit({ code, signal })),
    );
    const take = (chunk: Buffer) => {
      this.output.push(chunk);
      for (const line of chunk.toString().split('\n')) {
        const msg = /"msg":"([^"]*)"/.exec(line)?.[1];
        if (msg !== undefined && this.messages.length < 10_000) this.messages.push(msg);
      }
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
  }

  static spawn(name: string, script: string, env: Record<string, string>): NodeProcess {
    const child = spawn(process.execPath, [script], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new NodeProcess(name, child);
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Log messages (`msg` of the JSON lines) seen so far. */
  logged(message: string): boolean {
    return this.messages.includes(message);
  }

  /** SIGKILL is a real SIGKILL: no handler runs, nothing is flushed or committed. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await endProcess(this.child, signal);
  }

  tail(): string {
    return `\n--- last output of ${this.name} (pid ${this.child.pid}) ---\n${this.output.text()}`;
  }
}

/**
 * Compiles the decryptor (main and its piscina worker) and the collector with the production build settings
 * (tsc + tsc-alias, as `npm run build`) once per source state: the output directory is named by a hash of
 * every non-test TypeScript file under apps/ and libs/, so the failure test files running in parallel jest
 * workers share one build and a later run on unchanged sources reuses it. Type errors are the typecheck
 * step's business; the build only has to emit.
 */
export interface Deployables {
  decryptorMain: string;
  collectorMain: string;
}

const BUILD_ROOT = join(REPO_ROOT, 'node_modules/.cache/hes-failure-build');
const ENTRY_POINTS = [
  'apps/decryptor/src/main.ts',
  'apps/decryptor/src/decode/decode.worker.ts',
  'apps/collector/src/main.ts',
];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'test') out.push(...sourceFiles(path));
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) out.push(path);
  }
  return out;
}

function sourceHash(): string {
  const hash = createHash('sha256');
  const files = [
    ...sourceFiles(join(REPO_ROOT, 'apps')),
    ...sourceFiles(join(REPO_ROOT, 'libs')),
    join(REPO_ROOT, 'tsconfig.json'),
    join(REPO_ROOT, 'tsconfig.build.json'),
  ].sort();
  for (const file of files) hash.update(relative(REPO_ROOT, file)).update('\0').update(readFileSync(file));
  return hash.digest('hex').slice(0, 16);
}

export async function buildDeployables(): Promise<Deployables> {
  const dir = join(BUILD_ROOT, sourceHash());
  const outDir = join(dir, 'out');
  const result: Deployables = {
    decryptorMain: join(outDir, 'apps/decryptor/src/main.js'),
    collectorMain: join(outDir, 'apps/collector/src/main.js'),
  };
  const done = join(dir, 'done');
  const lock = `${dir}.lock`;
  mkdirSync(BUILD_ROOT, { recursive: true });
  const deadline = Date.now() + 360_000;
  while (!existsSync(done)) {
    if (tryLock(lock)) {
      try {
        if (!existsSync(done)) {
          compile(dir, outDir);
          writeFileSync(done, new Date().toISOString());
        }
      } finally {
        rmSync(lock, { recursive: true, force: true });
      }
    } else {
      if (Date.now() > deadline) throw new Error(`another process held ${lock} for over 6 minutes`);
      await sleep(500);
    }
  }
  for (const file of Object.values(result)) {
    if (!existsSync(file)) throw new Error(`the failure-test build did not produce ${file}`);
  }
  return result;
}

/** mkdir is atomic: whoever creates the lock directory builds. A lock left by a killed run goes stale. */
function tryLock(lock: string): boolean {
  try {
    mkdirSync(lock);
    return true;
  } catch {
    const held = statSync(lock, { throwIfNoEntry: false });
    if (held && Date.now() - held.mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true });
    return false;
  }
}

function compile(dir: string, outDir: string): void {
  pruneOldBuilds(dir);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // The built apps find db/migrations next to their output's parent, as dist/ finds it in the repository.
  symlinkSync(join(REPO_ROOT, 'db'), join(dir, 'db'));
  // Missing entry points' output is checked by the caller.
  buildEntryPoints({ dir, outDir, entryPoints: ENTRY_POINTS, allowTypeErrors: true });
}

/** Builds of older source states, untouched for a day, are removed so the cache does not grow without bound. */
function pruneOldBuilds(current: string): void {
  for (const entry of readdirSync(BUILD_ROOT)) {
    const path = join(BUILD_ROOT, entry);
    if (path === current || entry.endsWith('.lock')) continue;
    if (Date.now() - statSync(path).mtimeMs > 86_400_000) rmSync(path, { recursive: true, force: true });
  }
}
