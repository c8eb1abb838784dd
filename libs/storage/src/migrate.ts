import { existsSync } from 'node:fs';
import path from 'node:path';
import { runner } from 'node-pg-migrate';
import { Pool, PoolClient } from 'pg';
import { DialectPreference, StorageDialect, resolveDialect } from './dialect';
import { createPool } from './pool';

export interface MigrationOptions {
  /** STORAGE_DIALECT: `auto` picks TimescaleDB when the server offers the extension. */
  dialect?: DialectPreference;
  /** RAW_RETENTION_DAYS, recorded by the first migration (TimescaleDB retention policy, plain partition drops). */
  rawRetentionDays?: number;
  /** Age in days after which TimescaleDB compresses raw chunks. */
  compressAfterDays?: number;
  /** Directory of migration files; defaults to the repository's db/migrations. */
  migrationsDir?: string;
  /** Receives node-pg-migrate's progress lines; silent by default. */
  log?: (message: string) => void;
}

export interface MigrationResult {
  dialect: StorageDialect;
  /** Names of the migrations applied by this run (empty when the schema was up to date). */
  applied: string[];
}

export const DEFAULT_RAW_RETENTION_DAYS = 90;
export const DEFAULT_COMPRESS_AFTER_DAYS = 7;
/** Advisory lock that serialises concurrent start-ups migrating the same database (waits instead of failing). */
const MIGRATION_LOCK_ID = 4_711_020_251;

/** db/migrations, found from both the TypeScript sources (libs/storage/src) and the compiled output (dist/libs/storage/src). */
export function defaultMigrationsDir(): string {
  const candidates = [
    path.resolve(__dirname, '../../../db/migrations'),
    path.resolve(__dirname, '../../../../db/migrations'),
  ];
  const found = candidates.find((dir) => existsSync(dir));
  if (!found) throw new Error(`db/migrations not found (looked in ${candidates.join(', ')})`);
  return found;
}

function wholeDays(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a whole number of days >= 1, got ${value}`);
  return value;
}

/**
 * Brings the schema up to date. The dialect is chosen once (forced, or detected from the server), recorded in
 * storage_settings by the first migration, and reused by every later run, so migrations and writers agree.
 */
export async function runMigrations(
  target: Pool | string,
  options: MigrationOptions = {},
): Promise<MigrationResult> {
  const pool =
    typeof target === 'string' ? createPool(target, { max: 1, applicationName: 'hes-migrate' }) : target;
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      return await migrateLocked(client, options);
    } catch (error) {
      // A migration that failed mid-way leaves its transaction aborted; end it so the unlock can run.
      await client.query('ROLLBACK');
      throw error;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
    }
  } finally {
    client.release();
    if (typeof target === 'string') await pool.end();
  }
}

async function migrateLocked(client: PoolClient, options: MigrationOptions): Promise<MigrationResult> {
  const dialect = await resolveDialect(client, options.dialect ?? 'auto');
  const retention = wholeDays('rawRetentionDays', options.rawRetentionDays ?? DEFAULT_RAW_RETENTION_DAYS);
  const compression = wholeDays(
    'compressAfterDays',
    options.compressAfterDays ?? DEFAULT_COMPRESS_AFTER_DAYS,
  );
  await client.query(
    `SELECT set_config('hes.storage_dialect', $1, false), set_config('hes.raw_retention_days', $2, false),
            set_config('hes.compress_after_days', $3, false)`,
    [dialect, String(retention), String(compression)],
  );
  const log = options.log ?? (() => undefined);
  const applied = await runner({
    dbClient: client,
    dir: options.migrationsDir ?? defaultMigrationsDir(),
    ignorePattern: '(?!\\d{17}_.*\\.js$).*',
    migrationsTable: 'pgmigrations',
    direction: 'up',
    checkOrder: true,
    singleTransaction: false,
    noLock: true,
    logger: { debug: () => undefined, info: log, warn: log, error: log },
  });
  return { dialect, applied: applied.map((migration) => migration.name) };
}
