// @ts-check
/**
 * The readings table, one row per reading, natural key (meter_id, quantity, storage, tariff, ts).
 * TimescaleDB: a hypertable with 1-day chunks, compression and retention policies.
 * Plain PostgreSQL: native range partitioning by UTC day, with functions that create partitions ahead
 * and drop those past retention (called by the writer and by StorageMaintenance).
 */

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
async function settingsOf(pgm) {
  const rows = await pgm.db.select(`SELECT key, value FROM storage_settings`);
  return Object.fromEntries(rows.map((row) => [row.key, row.value]));
}

const READINGS_COLUMNS = `
  meter_id text NOT NULL,
  ts timestamptz NOT NULL,
  quantity text NOT NULL,
  storage smallint NOT NULL DEFAULT 0,
  tariff smallint NOT NULL DEFAULT 0,
  unit text NOT NULL,
  value double precision NOT NULL,
  source text NOT NULL,
  quality smallint NOT NULL DEFAULT 0,
  stored_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (meter_id, quantity, storage, tariff, ts)`;

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.up = async (pgm) => {
  const settings = await settingsOf(pgm);
  if (settings.dialect === 'timescaledb') {
    pgm.sql(`
      CREATE TABLE readings (${READINGS_COLUMNS});
      SELECT create_hypertable('readings', by_range('ts', INTERVAL '1 day'), create_default_indexes => false);
      ALTER TABLE readings SET (
        timescaledb.compress,
        timescaledb.compress_segmentby = 'meter_id',
        timescaledb.compress_orderby = 'quantity, storage, tariff, ts'
      );
      SELECT add_compression_policy('readings', compress_after => INTERVAL '${Number(settings.compress_after_days)} days');
      SELECT add_retention_policy('readings', drop_after => INTERVAL '${Number(settings.raw_retention_days)} days');
    `);
    return;
  }
  pgm.sql(`
    CREATE TABLE readings (${READINGS_COLUMNS}) PARTITION BY RANGE (ts);

    -- Creates the daily partitions (UTC days) that do not exist yet. Concurrent callers may race on the same
    -- day; the loser's duplicate_table error is swallowed because the partition it wanted now exists.
    CREATE FUNCTION readings_ensure_partitions(days date[]) RETURNS integer LANGUAGE plpgsql AS $$
    DECLARE
      day date;
      created integer := 0;
      partition_name text;
    BEGIN
      FOREACH day IN ARRAY days LOOP
        partition_name := 'readings_p' || to_char(day, 'YYYYMMDD');
        CONTINUE WHEN to_regclass(partition_name) IS NOT NULL;
        BEGIN
          EXECUTE format(
            'CREATE TABLE %I PARTITION OF readings FOR VALUES FROM (%L) TO (%L)',
            partition_name, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
          created := created + 1;
        EXCEPTION WHEN duplicate_table OR unique_violation THEN
          NULL;
        END;
      END LOOP;
      RETURN created;
    END $$;

    -- Drops whole daily partitions that end on or before the cutoff day; returns their names.
    CREATE FUNCTION readings_drop_partitions_before(cutoff date) RETURNS SETOF text LANGUAGE plpgsql AS $$
    DECLARE
      partition_name text;
    BEGIN
      FOR partition_name IN
        SELECT child.relname
        FROM pg_inherits
        JOIN pg_class child ON child.oid = pg_inherits.inhrelid
        JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
        WHERE parent.relname = 'readings' AND child.relname ~ '^readings_p[0-9]{8}$'
          AND to_date(substr(child.relname, 11), 'YYYYMMDD') < cutoff
        ORDER BY child.relname
      LOOP
        EXECUTE format('DROP TABLE %I', partition_name);
        RETURN NEXT partition_name;
      END LOOP;
    END $$;

    SELECT readings_ensure_partitions(ARRAY(
      SELECT (now() AT TIME ZONE 'UTC')::date + offset_days FROM generate_series(-1, 7) AS offset_days));
  `);
};

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.down = async (pgm) => {
  const settings = await settingsOf(pgm);
  pgm.sql('DROP TABLE readings');
  if (settings.dialect === 'postgres') {
    pgm.sql(
      'DROP FUNCTION readings_ensure_partitions(date[]); DROP FUNCTION readings_drop_partitions_before(date)',
    );
  }
};
