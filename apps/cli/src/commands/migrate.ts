import type { Command } from 'commander';
import { loadConfig } from '@hes/config';
import { DialectPreference, runMigrations } from '@hes/storage';
import { CliIo, UsageError, writeLine } from '../cli-io';

interface MigrateCommandOptions {
  databaseUrl?: string;
  dialect?: string;
  verbose?: boolean;
}

const DIALECTS: readonly DialectPreference[] = ['auto', 'timescaledb', 'postgres'];

/**
 * `hes migrate`: brings the database schema up to date (DATABASE_URL, STORAGE_DIALECT, RAW_RETENTION_DAYS from
 * the environment, flags override). Prints one JSON line: the dialect and the migrations applied.
 */
export function registerMigrateCommand(program: Command, io: CliIo): void {
  program
    .command('migrate')
    .description('apply pending database migrations (TimescaleDB when available, else plain PostgreSQL)')
    .option('--database-url <url>', 'PostgreSQL URL (default: DATABASE_URL)')
    .option('--dialect <dialect>', 'auto | timescaledb | postgres (default: STORAGE_DIALECT or auto)')
    .option('--verbose', 'print migration progress on stderr')
    .action(async (options: MigrateCommandOptions) => {
      if (options.dialect !== undefined && !DIALECTS.includes(options.dialect as DialectPreference)) {
        throw new UsageError(
          `--dialect must be one of ${DIALECTS.join(', ')}, got ${JSON.stringify(options.dialect)}`,
        );
      }
      const config = loadConfig({
        ...process.env,
        ...(options.databaseUrl !== undefined && { DATABASE_URL: options.databaseUrl }),
        ...(options.dialect !== undefined && { STORAGE_DIALECT: options.dialect }),
      });
      const result = await runMigrations(config.database.url, {
        dialect: config.database.dialect,
        rawRetentionDays: config.database.rawRetentionDays,
        log: options.verbose ? (message) => io.stderr.write(`${message}\n`) : undefined,
      });
      await writeLine(io.stdout, JSON.stringify(result));
    });
}
