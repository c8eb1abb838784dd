// @ts-check
/**
 * GET /events filtered by kind (with or without acknowledged=false) walked events_ts_idx over every kind and
 * discarded the others: the slow query at 200,000 events. This index serves the kind filter and the endpoint's
 * order (ts DESC, id DESC) together, so a page reads only its own rows. Dialect-neutral plain index.
 */

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.up = (pgm) => {
  pgm.sql('CREATE INDEX events_kind_ts_idx ON events (kind, ts DESC, id DESC);');
};

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.down = (pgm) => {
  pgm.sql('DROP INDEX events_kind_ts_idx;');
};
