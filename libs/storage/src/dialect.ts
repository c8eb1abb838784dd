import type { Pool, PoolClient } from 'pg';

/** Which schema flavour a database uses: TimescaleDB hypertables and continuous aggregates, or plain PostgreSQL. */
export type StorageDialect = 'timescaledb' | 'postgres';

/** What configuration asks for: a dialect, or `auto` to use TimescaleDB whenever the server offers it. */
export type DialectPreference = StorageDialect | 'auto';

type Queryable = Pick<Pool | PoolClient, 'query'>;

/** The dialect the server can offer: TimescaleDB when the extension is installed or available to install. */
export async function detectDialect(db: Queryable): Promise<StorageDialect> {
  const result = await db.query<{ available: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') AS available`,
  );
  return result.rows[0].available ? 'timescaledb' : 'postgres';
}

/** The dialect recorded by the first migration, or undefined for a database that has not been migrated yet. */
export async function readRecordedDialect(db: Queryable): Promise<StorageDialect | undefined> {
  const table = await db.query<{ exists: boolean }>(
    `SELECT to_regclass('storage_settings') IS NOT NULL AS exists`,
  );
  if (!table.rows[0].exists) return undefined;
  const result = await db.query<{ value: string }>(
    `SELECT value FROM storage_settings WHERE key = 'dialect'`,
  );
  const value = result.rows[0]?.value;
  if (value !== 'timescaledb' && value !== 'postgres') {
    throw new Error(
      `storage_settings.dialect holds ${JSON.stringify(value)}, expected 'timescaledb' or 'postgres'`,
    );
  }
  return value;
}

/**
 * The dialect to migrate with. A database keeps the dialect it was created with: forcing another one is an
 * error rather than a silent mix of schemas.
 */
export async function resolveDialect(db: Queryable, preference: DialectPreference): Promise<StorageDialect> {
  const recorded = await readRecordedDialect(db);
  if (recorded) {
    if (preference !== 'auto' && preference !== recorded) {
      throw new Error(
        `STORAGE_DIALECT=${preference} but this database was created with the ${recorded} dialect; a database cannot change dialect`,
      );
    }
    return recorded;
  }
  const available = await detectDialect(db);
  if (preference === 'timescaledb' && available !== 'timescaledb') {
    throw new Error(
      'STORAGE_DIALECT=timescaledb but the timescaledb extension is not available on this server',
    );
  }
  return preference === 'auto' ? available : preference;
}
