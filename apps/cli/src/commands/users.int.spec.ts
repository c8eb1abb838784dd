/** `hes users add` against a throw-away, migrated PostgreSQL database. */
import { UserRepository, verifyPassword } from '@hes/auth';
import { createPool, runMigrations } from '@hes/storage';
import { createTestDatabase, type TestDatabase } from '@hes/testing';
import { Command } from 'commander';
import { PassThrough } from 'node:stream';
import type { Pool } from 'pg';
import { UsageError, type CliIo } from '../cli-io';
import { registerUsersCommand } from './users';

jest.setTimeout(60_000);

describe('hes users add', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase('hes_cli_users');
    await runMigrations(db.url);
    pool = createPool(db.url, { max: 1 });
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  async function run(args: string[], stdinText = ''): Promise<string> {
    const stdout = new PassThrough();
    let output = '';
    stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const stdin = new PassThrough();
    stdin.end(stdinText);
    const io: CliIo = { stdin, stdout, stderr: new PassThrough(), now: () => new Date() };
    const program = new Command('hes').exitOverride();
    registerUsersCommand(program, io, { DATABASE_URL: db.url });
    await program.parseAsync(['users', 'add', ...args], { from: 'user' });
    return output;
  }

  it('creates the first platform admin with a generated password that logs in, shown once', async () => {
    const added = JSON.parse(
      await run(['--email', 'Root@Example.org', '--role', 'platform_admin', '--json']),
    );
    expect(added).toMatchObject({
      email: 'root@example.org',
      role: 'platform_admin',
      societyId: null,
      created: true,
    });
    const users = new UserRepository(pool);
    const user = await users.findByEmail('root@example.org');
    expect(await verifyPassword(added.password, user!.passwordHash)).toBe(true);
    expect(await users.memberships(user!.id)).toEqual([
      { userId: user!.id, societyId: null, role: 'platform_admin' },
    ]);
    const stored = await pool.query('SELECT password_hash FROM users');
    expect(JSON.stringify(stored.rows)).not.toContain(added.password);
    const audit = await pool.query(`SELECT actor, action FROM audit_log ORDER BY id`);
    expect(audit.rows).toEqual([
      { actor: 'cli', action: 'user.create' },
      { actor: 'cli', action: 'membership.set' },
    ]);
  });

  it('takes the password from stdin and adds a society role to an existing user', async () => {
    const society = (await pool.query(`INSERT INTO societies (name) VALUES ('S') RETURNING id`)).rows[0].id;
    const text = await run(
      ['--email', 'op@example.org', '--role', 'field_operator', '--society', society, '--password-stdin'],
      'a password from stdin\n',
    );
    expect(text).toContain('created; role field_operator');
    expect(text).not.toContain('password:');
    const user = await new UserRepository(pool).findByEmail('op@example.org');
    expect(await verifyPassword('a password from stdin', user!.passwordHash)).toBe(true);
    const again = JSON.parse(
      await run(['--email', 'op@example.org', '--role', 'viewer', '--society', society, '--json']),
    );
    expect(again).toMatchObject({ created: false, role: 'viewer' });
    expect(again.password).toBeUndefined();
  });

  it('refuses bad roles, missing or superfluous societies, unknown societies and short passwords', async () => {
    await expect(run(['--email', 'x@example.org', '--role', 'emperor'])).rejects.toThrow(
      "--role 'emperor' is not one of",
    );
    await expect(run(['--email', 'x@example.org', '--role', 'viewer'])).rejects.toThrow(
      '--society is required for viewer',
    );
    await expect(
      run([
        '--email',
        'x@example.org',
        '--role',
        'platform_admin',
        '--society',
        '6f1c1f1e-4a57-4c4b-9f67-1f0cbbd1d5a1',
      ]),
    ).rejects.toThrow(UsageError);
    await expect(
      run([
        '--email',
        'x@example.org',
        '--role',
        'viewer',
        '--society',
        '6f1c1f1e-4a57-4c4b-9f67-1f0cbbd1d5a1',
      ]),
    ).rejects.toThrow("no society '6f1c1f1e-4a57-4c4b-9f67-1f0cbbd1d5a1'");
    expect(await new UserRepository(pool).findByEmail('x@example.org')).toBeUndefined();
    await expect(
      run(['--email', 'y@example.org', '--role', 'platform_admin', '--password-stdin'], 'short'),
    ).rejects.toThrow('the password must have 12 to 256 characters, got 5');
  });
});
