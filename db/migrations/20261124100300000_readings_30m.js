// @ts-check
/**
 * readings_30m: 30-minute rollups with identical columns in both dialects, so queries do not care:
 * bucket, meter_id, quantity, storage, tariff, unit, first_ts, first_value, last_ts, last_value,
 * min_value, max_value, sum_value, avg_value, reading_count.
 * TimescaleDB: a continuous aggregate with real-time aggregation and a refresh policy. It is created
 * WITH NO DATA and outside a transaction, as TimescaleDB requires.
 * Plain PostgreSQL: a table the ReadingWriter maintains in the same statement as the insert; first/last
 * keep their timestamps so out-of-order batches merge correctly, avg is derived from sum and count.
 */

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
async function dialectOf(pgm) {
  const [row] = await pgm.db.select(`SELECT value FROM storage_settings WHERE key = 'dialect'`);
  return row.value;
}

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.up = async (pgm) => {
  if ((await dialectOf(pgm)) === 'timescaledb') {
    pgm.noTransaction();
    pgm.sql(`
      CREATE MATERIALIZED VIEW readings_30m
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket(INTERVAL '30 minutes', ts) AS bucket,
             meter_id, quantity, storage, tariff, unit,
             min(ts) AS first_ts,
             first(value, ts) AS first_value,
             max(ts) AS last_ts,
             last(value, ts) AS last_value,
             min(value) AS min_value,
             max(value) AS max_value,
             sum(value) AS sum_value,
             avg(value) AS avg_value,
             count(*) AS reading_count
      FROM readings
      GROUP BY bucket, meter_id, quantity, storage, tariff, unit
      WITH NO DATA`);
    pgm.sql(`
      SELECT add_continuous_aggregate_policy('readings_30m',
        start_offset => INTERVAL '3 days',
        end_offset => INTERVAL '30 minutes',
        schedule_interval => INTERVAL '30 minutes')`);
    return;
  }
  pgm.sql(`
    CREATE TABLE readings_30m (
      bucket timestamptz NOT NULL,
      meter_id text NOT NULL,
      quantity text NOT NULL,
      storage smallint NOT NULL,
      tariff smallint NOT NULL,
      unit text NOT NULL,
      first_ts timestamptz NOT NULL,
      first_value double precision NOT NULL,
      last_ts timestamptz NOT NULL,
      last_value double precision NOT NULL,
      min_value double precision NOT NULL,
      max_value double precision NOT NULL,
      sum_value double precision NOT NULL,
      avg_value double precision GENERATED ALWAYS AS (sum_value / reading_count) STORED,
      reading_count bigint NOT NULL,
      PRIMARY KEY (meter_id, quantity, storage, tariff, unit, bucket)
    )`);
};

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.down = async (pgm) => {
  if ((await dialectOf(pgm)) === 'timescaledb') {
    pgm.noTransaction();
    pgm.sql('DROP MATERIALIZED VIEW readings_30m');
    return;
  }
  pgm.sql('DROP TABLE readings_30m');
};
