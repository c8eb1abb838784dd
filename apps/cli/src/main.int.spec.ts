import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildEntryPoints } from '@hes/testing';

/**
 * End to end: compiles the CLI with the production build settings (tsc + tsc-alias, as `npm run build`
 * does) into a private directory, so that parallel builds of dist/ cannot interfere, then spawns it
 * as a separate node process and checks its stdout, stderr and exit codes.
 */
const ROOT = resolve(__dirname, '../../..');
const BUILD_DIR = join(ROOT, 'node_modules/.cache', `hes-cli-e2e-${process.pid}`);
const OUT_DIR = join(BUILD_DIR, 'out');
const MAIN = join(OUT_DIR, 'apps/cli/src/main.js');

const vectors = readFileSync(resolve(ROOT, '../shared/wmbus/vectors.jsonl'), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map(
    (line) =>
      JSON.parse(line) as {
        name: string;
        key: string | null;
        telegram: string;
        driver: string;
        expected: Record<string, unknown>;
      },
  );
const AES_FULL = vectors.find((v) => v.driver === 'kamwater' && v.name === 'Vatten' && v.key !== null)!;

function hes(args: string[], input = '') {
  const result = spawnSync(process.execPath, [MAIN, ...args], { input, encoding: 'utf8', cwd: BUILD_DIR });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => {
  buildEntryPoints({ dir: BUILD_DIR, outDir: OUT_DIR, entryPoints: ['apps/cli/src/main.ts'] });
}, 120_000);

afterAll(() => rmSync(BUILD_DIR, { recursive: true, force: true }));

describe('hes (built CLI, separate process)', () => {
  it('decrypts a real Kamstrup telegram from stdin with a key file and exits 0', () => {
    const keys = join(BUILD_DIR, 'keys.csv');
    writeFileSync(keys, `meter_id,key_hex\n76348799,${AES_FULL.key}\n`);
    const result = hes(['decode', '--keys', keys], `${AES_FULL.telegram}\nzz\n`);
    expect(result.code).toBe(0);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines[0]).toMatchObject({ meter: 'kamwater', id: '76348799', total_m3: 6.408, status: 'DRY' });
    expect(lines[0].timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(lines[1]).toEqual({
      error: { code: 'BAD_INPUT', message: 'line 2: not a hex telegram' },
      telegram: 'zz',
    });
  });

  it('exits non-zero with a message on stderr for usage errors', () => {
    const result = hes(['decode', '--keys', join(BUILD_DIR, 'missing.csv'), AES_FULL.telegram]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('cannot read keys file');
    expect(hes(['decode', '--nope']).code).toBe(2);
  });

  it('survives its reader closing the pipe early', () => {
    const many = `${AES_FULL.telegram}\n`.repeat(20_000);
    const result = spawnSync('sh', ['-c', `node ${JSON.stringify(MAIN)} decode | head -c 100 >/dev/null`], {
      input: many,
      encoding: 'utf8',
    });
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('');
  });
});
