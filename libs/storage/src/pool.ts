import { Pool, type PoolClient } from 'pg';

export interface PoolOptions {
  /** Maximum connections; 1 for the single-session PGlite test server. */
  max?: number;
  applicationName?: string;
}

/** A node-postgres pool for DATABASE_URL. An error on an idle connection is reported, it does not crash the process. */
export function createPool(databaseUrl: string, options: PoolOptions = {}): Pool {
  const pool = new Pool({
    connectionString: databaseUrl,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'hes',
  });
  pool.on('error', (error) => {
    process.emitWarning(`idle PostgreSQL connection failed: ${error.message}`);
  });
  return pool;
}

/**
 * Runs `work` on one connection of `pool` inside BEGIN ... COMMIT and returns its result; ROLLBACK if it throws
 * (the error is rethrown), and the connection goes back to the pool either way.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}
