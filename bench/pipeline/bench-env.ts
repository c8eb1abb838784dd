import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';

/**
 * The checkout the bench belongs to: the nearest ancestor of `from` holding scripts/local-stack.sh. The
 * compiled bench may live in dist/ or in a private output directory (`tsc --outDir .local/<name>`).
 */
export function findRepoRoot(from = __dirname): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'scripts', 'local-stack.sh'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no checkout (scripts/local-stack.sh) above ${from}`);
  }
}

/** The compiled tree this bench was loaded from (…/<dist>/bench/pipeline → …/<dist>). */
export const compiledRoot = path.resolve(__dirname, '../..');

/** A new run of a bench: a short random id and its log directory .local/<bench>/<id>/ in the checkout, created. */
export function newRun(repoRoot: string, bench: string): { runId: string; workDir: string } {
  const runId = randomBytes(3).toString('hex');
  const workDir = path.join(repoRoot, '.local', bench, runId);
  mkdirSync(workDir, { recursive: true });
  return { runId, workDir };
}

/** Clock ticks per second, the unit of the CPU times in /proc/<pid>/stat. */
export const clockTicksPerSecond = (): number =>
  Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** node flags that write a CPU profile of the process into `dir` when it exits; none without a dir. */
export const cpuProfileArgs = (dir: string | undefined): string[] =>
  dir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(dir)}`] : [];

export interface BenchDatabase {
  /** Connection string of the new database. */
  url: string;
  /** Drops the database (unless `keep`) and closes the admin connection. */
  close(keep?: boolean): Promise<void>;
}

/** A fresh database `name` on the stack's PostgreSQL (`stackDatabaseUrl`), created through its postgres database. */
export async function createBenchDatabase(stackDatabaseUrl: string, name: string): Promise<BenchDatabase> {
  const adminUrl = new URL(stackDatabaseUrl);
  adminUrl.pathname = '/postgres';
  const databaseUrl = new URL(stackDatabaseUrl);
  databaseUrl.pathname = `/${name}`;
  const admin = new Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  return {
    url: databaseUrl.toString(),
    async close(keep = false) {
      if (!keep) await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** The environment the pipeline's processes (collector, decryptors) run with in a bench. */
export const pipelineProcessEnv = (
  stackEnv: Record<string, string>,
  databaseUrl: string,
  topicPrefix: string,
  partitions: number,
): NodeJS.ProcessEnv => ({
  ...process.env,
  ...stackEnv,
  DATABASE_URL: databaseUrl,
  STORAGE_DIALECT: 'postgres',
  KAFKA_TOPIC_PREFIX: topicPrefix,
  KAFKA_PARTITIONS: String(partitions),
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  NODE_ENV: 'production',
});

export function log(bench: string, message: string): void {
  process.stderr.write(`${bench} ${new Date().toISOString().slice(11, 19)} ${message}\n`);
}

/**
 * Runs scripts/local-stack.sh; returns the environment it prints (KAFKA_BROKERS, DATABASE_URL, ...).
 * `mockPartitionBytes` is the retention per partition of a mock this call starts (the mock's default is
 * 5 MiB, which a consumer falling behind under load overruns).
 */
export function localStack(
  repoRoot: string,
  command: 'up' | 'status' | 'down',
  kafkaPort: number,
  mockPartitionBytes?: number,
): Record<string, string> {
  const output = execFileSync('bash', [path.join(repoRoot, 'scripts/local-stack.sh'), command], {
    env: {
      ...process.env,
      KAFKA_BROKERS: `127.0.0.1:${kafkaPort}`,
      KAFKA_MOCK_BROKERS: '1',
      ...(mockPartitionBytes === undefined
        ? {}
        : {
            KAFKA_MOCK_PARTITION_MAX_BYTES: String(mockPartitionBytes),
            // The message-set cap must not bind first: one set per produce request and partition.
            KAFKA_MOCK_PARTITION_MAX_MSGSETS: String(10_000_000),
          }),
    },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', command === 'status' ? 'ignore' : 'inherit'],
  });
  const env: Record<string, string> = {};
  for (const match of output.matchAll(/^export ([A-Z_]+)=(.*)$/gm)) env[match[1]] = match[2];
  return env;
}

export function kafkaMockRunning(repoRoot: string, kafkaPort: number): boolean {
  try {
    localStack(repoRoot, 'status', kafkaPort);
    return true;
  } catch (error) {
    // status exits 1 when any service is down: look at the mock's own line.
    const stdout = String((error as { stdout?: string }).stdout ?? '');
    return /^kafka-mock\s+up/m.test(stdout);
  }
}

/** The pid of the Kafka mock on `kafkaPort`, from the pid file local-stack.sh keeps. */
export function kafkaMockPids(kafkaPort: number): number[] {
  const cacheDir =
    process.env.HES_CACHE_DIR ??
    (process.getuid?.() === 0 ? '/var/cache/hes' : path.join(homedir(), '.cache', 'hes'));
  try {
    return [Number(readFileSync(path.join(cacheDir, 'run', `kafka-mock-${kafkaPort}.pid`), 'utf8').trim())];
  } catch {
    return [];
  }
}
