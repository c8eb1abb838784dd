// @ts-check
/**
 * Last sighting of every meter heard through the pipeline (registered or not): when, how strong, from which
 * source and gateway, and the status flags its last telegram carried. The decryptor upserts it in batches; the
 * API shows it per meter and filters by "not heard since". Dialect-neutral plain table.
 */

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.up = (pgm) => {
  pgm.sql(`
    CREATE TABLE meter_status (
      meter_id text PRIMARY KEY,
      last_seen_at timestamptz NOT NULL,
      last_rssi_dbm real,
      last_source text NOT NULL,
      last_gateway_id text,
      status_flags text[] NOT NULL DEFAULT '{}',
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX meter_status_last_seen_at_idx ON meter_status (last_seen_at);
  `);
};

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.down = (pgm) => {
  pgm.sql('DROP TABLE meter_status;');
};
