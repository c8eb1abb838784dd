import { ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createPool } from '@hes/storage';
import { buildEntryPoints, findFreePortRange } from '@hes/testing';
import { kamstrupTelegram, meterKey } from '../test/telegrams';
import {
  TestEnvironment,
  createTestEnvironment,
  envelope,
  produceEnvelopes,
  registerMeters,
  waitUntil,
} from '../test/harness';

/**
 * The deployable: compiles main.ts and the decode worker with the production build settings (tsc +
 * tsc-alias, as `npm run build` does) into a private directory, runs it as its own process with the
 * compiled piscina worker, and checks storage, /health, /metrics, JSON logs and a graceful SIGTERM.
 */
jest.setTimeout(180_000);

const ROOT = resolve(__dirname, '../../..');
const BUILD_DIR = join(ROOT, 'node_modules/.cache', `hes-decryptor-e2e-${process.pid}`);
const OUT_DIR = join(BUILD_DIR, 'out');
const MAIN = join(OUT_DIR, 'apps/decryptor/src/main.js');
const KEY = meterKey(7);

beforeAll(() => {
  buildEntryPoints({
    dir: BUILD_DIR,
    outDir: OUT_DIR,
    entryPoints: ['apps/decryptor/src/main.ts', 'apps/decryptor/src/decode/decode.worker.ts'],
  });
}, 120_000);

afterAll(() => rmSync(BUILD_DIR, { recursive: true, force: true }));

describe('decryptor main (built, separate process)', () => {
  let environment: TestEnvironment;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    // The schema is migrated by the harness; start-up migration is covered by the in-process tests.
    environment = await createTestEnvironment({ LOG_LEVEL: 'info', DECRYPTOR_MIGRATE: 'false' });
    await registerMeters(environment, [{ meterId: '70000007', key: KEY }]);
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await environment.database.drop();
  });

  it('decodes with the compiled worker, serves /health and /metrics, logs JSON and stops on SIGTERM', async () => {
    const port = await findFreePortRange(1);
    let stdout = '';
    let stderr = '';
    child = spawn(process.execPath, [MAIN], {
      cwd: BUILD_DIR,
      env: { PATH: process.env.PATH, ...environment.env, DECRYPTOR_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolveExit) =>
      child!.once('exit', (code) => resolveExit(code)),
    );

    const base = `http://127.0.0.1:${port}`;
    await waitUntil(
      'the decryptor to serve /health',
      async () => (await fetch(`${base}/health`).catch(() => undefined))?.status === 200,
      60_000,
    );
    const telegram = kamstrupTelegram({ meterId: '70000007', key: KEY, volumeM3: 42.125 });
    await produceEnvelopes(environment, [envelope('70000007', telegram, Date.UTC(2026, 10, 22, 9))]);

    const db = createPool(environment.database.url, { max: 1 });
    try {
      await waitUntil('the reading', async () => {
        const rows = await db.query<{ value: number }>(
          `SELECT value FROM readings WHERE meter_id = '70000007' AND quantity = 'total_m3'`,
        );
        return rows.rows[0]?.value === 42.125;
      });
    } finally {
      await db.end();
    }
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('hes_telegrams_decoded_total{app="decryptor"} 1');
    expect(metrics).toContain('process_cpu_user_seconds_total');
    expect((await fetch(`${base}/nothing`)).status).toBe(404);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const lines = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { msg: string; app: string });
    expect(lines.every((line) => line.app === 'decryptor')).toBe(true);
    expect(lines.map((line) => line.msg)).toEqual(
      expect.arrayContaining(['decryptor consuming', 'decryptor stopped']),
    );
    expect(stdout + stderr).not.toContain(KEY.toString('hex'));
    expect(stdout + stderr).not.toContain(environment.env.HES_MASTER_KEY);
  });
});
