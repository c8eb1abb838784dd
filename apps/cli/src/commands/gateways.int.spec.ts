/** `hes gateways` against a throw-away, migrated PostgreSQL database. */
import { hashApiKey } from '@hes/keys';
import { createPool, GatewayRepository, runMigrations } from '@hes/storage';
import { createTestDatabase, type TestDatabase } from '@hes/testing';
import { Command } from 'commander';
import { PassThrough } from 'node:stream';
import type { Pool } from 'pg';
import { UsageError, type CliIo } from '../cli-io';
import { registerGatewaysCommand } from './gateways';

jest.setTimeout(60_000);

describe('hes gateways', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase('hes_cli_gateways');
    await runMigrations(db.url);
    pool = createPool(db.url, { max: 1 });
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  /** Runs one `hes gateways ...` invocation; returns its stdout. */
  async function run(...args: string[]): Promise<string> {
    const stdout = new PassThrough();
    let output = '';
    stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const io: CliIo = { stdin: new PassThrough(), stdout, stderr: new PassThrough(), now: () => new Date() };
    const program = new Command('hes').exitOverride();
    registerGatewaysCommand(program, io, { DATABASE_URL: db.url });
    await program.parseAsync(['gateways', ...args], { from: 'user' });
    return output;
  }

  it('adds a gateway, printing a key that authenticates it and storing only its hash', async () => {
    const added = JSON.parse(await run('add', 'roof-17', '--json'));
    expect(added).toMatchObject({ id: 'roof-17', name: 'roof-17' });
    expect(added.apiKey).toMatch(/^hesgw_[A-Za-z0-9_-]{43}$/);
    const repository = new GatewayRepository(pool);
    expect((await repository.findActiveByKeyHash(hashApiKey(added.apiKey)))?.id).toBe('roof-17');
    const stored = await pool.query('SELECT * FROM gateways');
    expect(JSON.stringify(stored.rows)).not.toContain(added.apiKey);

    const text = await run('add', 'Tower B roof', '--id', 'roof-18');
    const key = /API key: (\S+)/.exec(text)?.[1];
    expect((await repository.findActiveByKeyHash(hashApiKey(key!)))?.name).toBe('Tower B roof');
  });

  it('refuses an id that cannot appear in an MQTT topic, and a second gateway with the same id', async () => {
    await expect(run('add', 'Tower C roof')).rejects.toThrow(UsageError);
    await expect(run('add', 'x', '--id', 'a/b')).rejects.toThrow("--id 'a/b' is not a gateway id");
    await run('add', 'dup-1');
    await expect(run('add', 'dup-1')).rejects.toThrow("gateway 'dup-1' already exists");
  });

  it('lists gateways without keys and revokes one', async () => {
    const { apiKey } = JSON.parse(await run('add', 'gone-1', '--json'));
    expect(await run('revoke', 'gone-1')).toBe('gateway gone-1 revoked\n');
    expect(await new GatewayRepository(pool).findActiveByKeyHash(hashApiKey(apiKey))).toBeUndefined();
    await expect(run('revoke', 'gone-1')).rejects.toThrow("no active gateway 'gone-1'");
    const listed = (await run('list'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(listed.find((g) => g.id === 'gone-1')).toMatchObject({ revokedAt: expect.any(String) });
    expect(Object.keys(listed[0]).sort()).toEqual(['createdAt', 'id', 'name', 'revokedAt']);
  });
});
