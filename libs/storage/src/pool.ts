import { Pool } from 'pg';

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
