/**
 * API_WORKERS=2 as deployed: main.ts compiled with the production build settings and run as its own process, a
 * node:cluster primary with two workers on one port. Migrations, request spreading, /metrics over both workers,
 * replacement of a killed worker and the graceful stop are read from the real processes and their JSON logs.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { rmSync, symlinkSync } from 'node:fs';
import { get } from 'node:http';
import { join, resolve } from 'node:path';
import { hashPassword, UserRepository } from '@hes/auth';
import { createPool } from '@hes/storage';
import { buildEntryPoints, createTestDatabase, findFreePortRange, type TestDatabase } from '@hes/testing';

jest.setTimeout(180_000);

const ROOT = resolve(__dirname, '../../..');
const BUILD_DIR = join(ROOT, 'node_modules/.cache', `hes-api-cluster-e2e-${process.pid}`);
const OUT_DIR = join(BUILD_DIR, 'out');
const MAIN = join(OUT_DIR, 'apps/api/src/main.js');

beforeAll(() => {
  buildEntryPoints({ dir: BUILD_DIR, outDir: OUT_DIR, entryPoints: ['apps/api/src/main.ts'] });
  // The compiled storage library finds db/migrations next to the output, as in dist/.
  symlinkSync(join(ROOT, 'db'), join(OUT_DIR, 'db'));
}, 150_000);

afterAll(() => rmSync(BUILD_DIR, { recursive: true, force: true }));

interface LogLine {
  msg: string;
  app: string;
  role?: string;
  worker?: number;
  pid: number;
  port?: number;
  applied?: string[];
  code?: number | null;
  signal?: string | null;
  restartInMs?: number;
}

/** The API as a child process, its JSON log lines collected as they arrive. */
class ApiProcess {
  readonly logs: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [MAIN], { cwd: BUILD_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) if (line.trim()) this.logs.push(JSON.parse(line) as LogLine);
    });
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolveExit) => this.child.once('exit', (code) => resolveExit(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitForLog(description: string, match: (line: LogLine) => boolean): Promise<LogLine> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const line = this.logs.find(match);
      if (line) return line;
      if (!this.running() || Date.now() > deadline)
        throw new Error(`no log line ${description}; stderr: ${this.stderr}`);
      await new Promise((resolveWait) => setTimeout(resolveWait, 50));
    }
  }
}

/** GET on a connection of its own, so node:cluster may hand each request to another worker. */
function getOnNewConnection(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolveGet, reject) => {
    get(url, { agent: false, headers }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolveGet({ status: response.statusCode!, body }));
    }).on('error', reject);
  });
}

function workerRequests(metrics: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const match of metrics.matchAll(/^hes_api_worker_requests_total\{([^}]*)\} (\d+)$/gm)) {
    const worker = /worker="(\d+)"/.exec(match[1])![1];
    counts.set(worker, Number(match[2]));
  }
  return counts;
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

describe('API with API_WORKERS=2 (built, separate process)', () => {
  let db: TestDatabase;
  let api: ApiProcess | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('hes_api_cluster');
  });
  // A failed test leaves its API running: stopped here, workers included, so the next test and jest can end.
  afterEach(async () => {
    if (!api?.running()) return;
    api.kill('SIGTERM');
    const timeout = new Promise((resolveTimeout) => setTimeout(resolveTimeout, 15_000));
    if ((await Promise.race([api.exited.then(() => 'exited'), timeout])) === 'exited') return;
    for (const line of api.logs)
      if (line.msg === 'api worker listening' && !processGone(line.pid)) process.kill(line.pid, 'SIGKILL');
    api.kill('SIGKILL');
  });
  afterAll(async () => {
    await db?.drop();
  });

  const environment = (port: number, overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    KAFKA_BROKERS: process.env.KAFKA_BROKERS,
    REDIS_URL: process.env.REDIS_URL,
    DATABASE_URL: db.url,
    API_PORT: String(port),
    API_WORKERS: '2',
    LOG_LEVEL: 'info',
    ...overrides,
  });

  it('migrates once, spreads requests over both workers, sums /metrics, replaces a killed worker and stops on SIGTERM', async () => {
    const port = await findFreePortRange(1);
    const base = `http://127.0.0.1:${port}`;
    api = new ApiProcess(environment(port));
    await api.waitForLog(
      '"api listening" of the primary',
      (l) => l.msg === 'api listening' && l.role === 'primary',
    );

    const migrations = api.logs.filter((l) => l.msg === 'database schema up to date');
    expect(migrations).toHaveLength(1);
    expect(migrations[0].role).toBe('primary');
    expect(migrations[0].applied!.length).toBeGreaterThan(0);

    const listening = api.logs.filter((l) => l.msg === 'api worker listening');
    expect(listening.map((l) => l.worker).sort()).toEqual([1, 2]);
    expect(listening.every((l) => l.port === port && l.pid !== api!.pid)).toBe(true);
    const workerPids = new Map(listening.map((l) => [l.worker!, l.pid]));

    // Without API_JWT_SECRET (development) the primary gives both workers one random secret: a token issued by
    // one worker is accepted by the other.
    const pool = createPool(db.url, { max: 1 });
    try {
      const users = new UserRepository(pool);
      const user = await users.create({
        email: 'admin@example.org',
        displayName: 'admin',
        passwordHash: await hashPassword('correct horse battery staple'),
      });
      await users.setMembership(user.id, null, 'platform_admin');
    } finally {
      await pool.end();
    }
    const login = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify({ email: 'admin@example.org', password: 'correct horse battery staple' }),
    });
    expect(login.status).toBe(200);
    const { accessToken } = (await login.json()) as { accessToken: string };
    for (let i = 0; i < 10; i++) {
      const societies = await getOnNewConnection(`${base}/api/v1/societies`, {
        authorization: `Bearer ${accessToken}`,
      });
      expect(societies.status).toBe(200);
    }
    for (let i = 0; i < 9; i++) expect((await getOnNewConnection(`${base}/health`)).status).toBe(200);
    // Each worker counts only its own requests: one answer naming both workers (with all 20 requests and the
    // scrape between them) is the primary's sum over the cluster, whichever worker served the scrape.
    const metrics = await getOnNewConnection(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    const counts = workerRequests(metrics.body);
    expect([...counts.keys()].sort()).toEqual(['1', '2']);
    expect(counts.get('1')).toBeGreaterThan(0);
    expect(counts.get('2')).toBeGreaterThan(0);
    expect(counts.get('1')! + counts.get('2')!).toBe(21);
    // Default process metrics are added up too: one series, not one per worker.
    expect(metrics.body.match(/^process_cpu_user_seconds_total\{app="api"\} /gm)).toHaveLength(1);

    process.kill(workerPids.get(1)!, 'SIGKILL');
    const death = await api.waitForLog('"api worker exited unexpectedly"', (l) =>
      l.msg.startsWith('api worker exited unexpectedly'),
    );
    expect(death).toMatchObject({ worker: 1, pid: workerPids.get(1), signal: 'SIGKILL', restartInMs: 1000 });
    const replacement = await api.waitForLog(
      'of the replacement worker 1',
      (l) => l.msg === 'api worker listening' && l.worker === 1 && l.pid !== workerPids.get(1),
    );
    workerPids.set(1, replacement.pid);
    const served = new Set<string>();
    for (let i = 0; i < 20; i++) {
      expect((await getOnNewConnection(`${base}/health`)).status).toBe(200);
    }
    const after = workerRequests((await getOnNewConnection(`${base}/metrics`)).body);
    // The replacement counts from zero; it served part of the 20 requests (and the scrape, if it got it).
    for (const [worker, count] of after) if (count > 0) served.add(worker);
    expect([...served].sort()).toEqual(['1', '2']);
    expect(after.get('1')).toBeLessThanOrEqual(21);

    api.kill('SIGTERM');
    expect(await api.exited).toBe(0);
    expect([...workerPids.values()].every(processGone)).toBe(true);
    const stopped = api.logs.filter((l) => l.msg === 'api stopped');
    expect(stopped.map((l) => l.worker ?? l.role).sort()).toEqual([1, 2, 'primary'].sort());
    expect(api.stderr).toBe('');
  });

  it('exits 1 without retrying when a worker cannot start', async () => {
    const port = await findFreePortRange(1);
    // Production refuses to start the API without a signing secret; the check runs in each worker.
    api = new ApiProcess(
      environment(port, {
        NODE_ENV: 'production',
        HES_MASTER_KEY: '0'.repeat(64),
        API_MIGRATE_ON_START: 'false',
      }),
    );
    expect(await api.exited).toBe(1);
    expect(api.stderr).toMatch(/api: cannot start: API worker [12] exited with code 1 before listening/);
    expect(api.logs.filter((l) => l.msg === 'api worker listening')).toEqual([]);
  });
});
