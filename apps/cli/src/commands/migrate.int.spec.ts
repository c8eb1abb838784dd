import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { createTestDatabase } from '../../../../libs/storage/test/postgres-database';
import { CliIo, UsageError } from '../cli-io';
import { registerMigrateCommand } from './migrate';
import { migrationFileNames } from '../../../../libs/storage/test/migration-files';

function testIo(): { io: CliIo; output: () => string } {
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return {
    io: { stdin: new PassThrough(), stdout, stderr: new PassThrough(), now: () => new Date() },
    output: () => text,
  };
}

async function runMigrate(args: string[], io: CliIo): Promise<void> {
  const program = new Command().exitOverride();
  registerMigrateCommand(program, io);
  await program.parseAsync(['migrate', ...args], { from: 'user' });
}

describe('hes migrate', () => {
  it('migrates a fresh database with the requested dialect, then reports nothing left to apply', async () => {
    const db = await createTestDatabase('hes_cli_migrate');
    try {
      const first = testIo();
      await runMigrate(['--database-url', db.url, '--dialect', 'postgres'], first.io);
      const result = JSON.parse(first.output());
      expect(result.dialect).toBe('postgres');
      expect(result.applied).toEqual(migrationFileNames());
      const again = testIo();
      await runMigrate(['--database-url', db.url], again.io);
      expect(JSON.parse(again.output())).toEqual({ dialect: 'postgres', applied: [] });
    } finally {
      await db.drop();
    }
  });

  it('rejects an unknown dialect as a usage error', async () => {
    await expect(runMigrate(['--dialect', 'mysql'], testIo().io)).rejects.toThrow(UsageError);
  });
});
