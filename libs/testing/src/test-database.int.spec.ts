import { Client } from 'pg';
import { createTestDatabase } from './test-database';

describe('createTestDatabase on the local PostgreSQL', () => {
  it('creates an empty database of its own and drops it even with a connection still open', async () => {
    const database = await createTestDatabase('hes_testing_spec');
    const client = new Client({ connectionString: database.url });
    await client.connect();
    const { rows } = await client.query<{ name: string }>('select current_database() as name');
    expect(rows[0].name).toBe(database.name);
    client.on('error', () => undefined); // the forced drop terminates this connection

    await database.drop();
    const admin = new Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    const remaining = await admin.query('select 1 from pg_database where datname = $1', [database.name]);
    await admin.end();
    expect(remaining.rowCount).toBe(0);
  });
});
