import { Client } from 'pg';
import { uniqueDatabaseName } from './unique-names';

/** A throw-away PostgreSQL database on the local server, for one test file. */
export interface TestDatabase {
  readonly name: string;
  /** Connection string of the new database. */
  readonly url: string;
  /** Drops the database, ending connections still open to it. */
  drop(): Promise<void>;
}

const defaultServerUrl = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Creates an empty database named `<prefix>_<pid>_<time>_<seq>` on the server of DATABASE_URL (the local stack's
 * PostgreSQL by default), so tests running at the same time never share tables.
 */
export async function createTestDatabase(
  prefix = 'hes_test',
  serverUrl = process.env.DATABASE_URL ?? defaultServerUrl,
): Promise<TestDatabase> {
  const name = uniqueDatabaseName(prefix);
  const adminUrl = new URL(serverUrl);
  adminUrl.pathname = '/postgres';
  const admin = new Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: async () => {
      const client = new Client({ connectionString: adminUrl.toString() });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
