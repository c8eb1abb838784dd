// @ts-check
/**
 * The readings primary key INCLUDEs unit, value, source and quality, so that one meter's readings of a period
 * (GET /meters/{id}/readings) are an index-only range: the pipeline writes readings time-ordered across all
 * meters, so a meter's day of 4 series x 48 half-hours lies on up to 192 heap pages, one visit each, and the
 * heap visits were ~40 % of PostgreSQL's CPU for that read (bench/README.md, "one meter, one day"). The key
 * columns are unchanged (same uniqueness, same ON CONFLICT dedup); only its index tuples are wider, and no
 * second index has to be maintained. Heap pages are still visited until VACUUM has marked them all-visible
 * (autovacuum does so on inserts), i.e. for the newest part of the current day.
 * Rebuilds the key of every partition/chunk under an exclusive lock on readings: on a large installation run it in
 * a maintenance window.
 * Both dialects: on TimescaleDB the key of the hypertable (and of its uncompressed chunks, which serve the recent
 * days) is rebuilt the same way; compressed chunks are read from their segments, not through this index.
 */

const KEY = 'meter_id, quantity, storage, tariff, ts';

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.up = (pgm) => {
  pgm.sql(`
    ALTER TABLE readings
      DROP CONSTRAINT readings_pkey,
      ADD CONSTRAINT readings_pkey PRIMARY KEY (${KEY}) INCLUDE (unit, value, source, quality)`);
};

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.down = (pgm) => {
  pgm.sql(`
    ALTER TABLE readings
      DROP CONSTRAINT readings_pkey,
      ADD CONSTRAINT readings_pkey PRIMARY KEY (${KEY})`);
};
