// @ts-check
/**
 * Index for the readings API: the 30-minute rollups by series and bucket, without the unit that sits between
 * them in readings_30m's key. Billing consumption looks up "the newest bucket of this register at or before the
 * period boundary" for thousands of meters at once; with this index each lookup is one short descent instead of a
 * sort of all the meter's buckets. Raw readings need nothing new: their primary key already leads with the series.
 * Both dialects: on TimescaleDB readings_30m is a continuous aggregate, and the index is created on its
 * materialised hypertable (allowed for continuous aggregates).
 */

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.up = (pgm) => {
  pgm.sql(
    'CREATE INDEX readings_30m_series_bucket_idx ON readings_30m (meter_id, quantity, storage, tariff, bucket)',
  );
};

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.down = (pgm) => {
  pgm.sql('DROP INDEX readings_30m_series_bucket_idx');
};
