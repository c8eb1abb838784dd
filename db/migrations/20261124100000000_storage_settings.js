// @ts-check
/**
 * Records the storage dialect and retention settings chosen by runMigrations (libs/storage/src/migrate.ts),
 * which passes them as session settings. Every later migration and the writers read the dialect from this
 * table, so a database never changes dialect after it has been created.
 */

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.up = async (pgm) => {
  const [settings] = await pgm.db.select(`
    SELECT current_setting('hes.storage_dialect', true) AS dialect,
           current_setting('hes.raw_retention_days', true) AS raw_retention_days,
           current_setting('hes.compress_after_days', true) AS compress_after_days`);
  if (settings.dialect !== 'timescaledb' && settings.dialect !== 'postgres') {
    throw new Error(
      'storage dialect not set for this session: run migrations through `hes migrate` or runMigrations(), not the node-pg-migrate CLI',
    );
  }
  for (const name of ['raw_retention_days', 'compress_after_days']) {
    const days = Number(settings[name]);
    if (!Number.isInteger(days) || days < 1) {
      throw new Error(
        `hes.${name} must be a whole number of days >= 1, got ${JSON.stringify(settings[name])}`,
      );
    }
  }
  pgm.sql(`
    CREATE TABLE storage_settings (
      key text PRIMARY KEY,
      value text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
  pgm.sql(
    `INSERT INTO storage_settings (key, value) VALUES
       ('dialect', '${settings.dialect}'),
       ('raw_retention_days', '${Number(settings.raw_retention_days)}'),
       ('compress_after_days', '${Number(settings.compress_after_days)}')`,
  );
  if (settings.dialect === 'timescaledb') {
    pgm.sql('CREATE EXTENSION IF NOT EXISTS timescaledb');
  }
};

exports.down = (pgm) => {
  pgm.sql('DROP TABLE storage_settings');
};
