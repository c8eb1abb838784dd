// @ts-check
/**
 * A meter's history is visible only to the society that owned it. Meter ids are global (a radio meter exists
 * once) and readings, rollups, events and commands are keyed by meter id, so when a meter leaves a society (is
 * deleted, or moved to another one) and another society then owns the same id, that society must not see what
 * came before. meters.history_from is the floor of what anyone reading through the API sees of the meter:
 * readings and rollups from it on, events from it on, commands requested from it on; NULL shows all history.
 *
 * Triggers keep it, so every path that registers or moves a meter (API, CSV import, registering an unknown
 * meter, the CLI, plain SQL) gets it right:
 * - meter_departures records each time a meter id leaves a society (deleted, or its society changed);
 * - a move to another society sets history_from to that moment (the new society sees what came after);
 * - a meter inserted (or given a society after having none) starts at the latest departure of its id from any
 *   *other* society, NULL if there is none: a society that registers its own meter again sees its old history.
 * Instants are whole milliseconds (rounded up), so the API can carry the floor as a JavaScript Date and compare
 * Redis values (millisecond times) and database rows against it with the same answer.
 * history_from is added to the tenancy notification, so the API's MeterTenancyCache forgets a meter whose floor
 * changed. Dialect-neutral: plain tables and triggers on both TimescaleDB and PostgreSQL.
 */

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.up = (pgm) => {
  pgm.sql(`
    CREATE FUNCTION meter_history_instant() RETURNS timestamptz LANGUAGE sql STABLE AS $$
      SELECT date_trunc('milliseconds', now() + INTERVAL '999 microseconds')
    $$;

    ALTER TABLE meters ADD COLUMN history_from timestamptz
      CONSTRAINT meters_history_from_whole_ms CHECK (history_from = date_trunc('milliseconds', history_from));

    -- Kept when a society is deleted: no foreign keys (a departure is a fact about the meter id).
    CREATE TABLE meter_departures (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      meter_id text NOT NULL,
      society_id uuid NOT NULL,
      departed_at timestamptz NOT NULL
    );
    CREATE INDEX meter_departures_meter_id_idx ON meter_departures (meter_id, departed_at);

    -- The latest departure of a meter id from a society other than society (NULL: from any society).
    CREATE FUNCTION meter_history_floor(meter text, society uuid) RETURNS timestamptz LANGUAGE sql STABLE AS $$
      SELECT max(departed_at) FROM meter_departures
      WHERE meter_id = meter AND society_id IS DISTINCT FROM society
    $$;

    CREATE FUNCTION meters_history_from() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        NEW.history_from := meter_history_floor(NEW.meter_id, NEW.society_id);
      ELSIF OLD.society_id IS NOT DISTINCT FROM NEW.society_id THEN
        RETURN NEW;
      ELSIF OLD.society_id IS NULL THEN
        NEW.history_from := meter_history_floor(NEW.meter_id, NEW.society_id);
      ELSE
        INSERT INTO meter_departures (meter_id, society_id, departed_at)
          VALUES (OLD.meter_id, OLD.society_id, meter_history_instant());
        NEW.history_from := meter_history_instant();
      END IF;
      RETURN NEW;
    END $$;

    CREATE FUNCTION meters_record_departure() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF OLD.society_id IS NOT NULL THEN
        INSERT INTO meter_departures (meter_id, society_id, departed_at)
          VALUES (OLD.meter_id, OLD.society_id, meter_history_instant());
      END IF;
      RETURN NULL;
    END $$;

    CREATE TRIGGER meters_history_from_inserted BEFORE INSERT ON meters
      FOR EACH ROW EXECUTE FUNCTION meters_history_from();
    CREATE TRIGGER meters_history_from_moved BEFORE UPDATE OF society_id ON meters
      FOR EACH ROW EXECUTE FUNCTION meters_history_from();
    CREATE TRIGGER meters_departure_deleted AFTER DELETE ON meters
      FOR EACH ROW EXECUTE FUNCTION meters_record_departure();

    DROP TRIGGER meters_tenancy_updated ON meters;
    CREATE TRIGGER meters_tenancy_updated AFTER UPDATE OF meter_id, society_id, group_id, history_from ON meters
      FOR EACH ROW
      WHEN (OLD.meter_id IS DISTINCT FROM NEW.meter_id OR OLD.society_id IS DISTINCT FROM NEW.society_id
            OR OLD.group_id IS DISTINCT FROM NEW.group_id OR OLD.history_from IS DISTINCT FROM NEW.history_from)
      EXECUTE FUNCTION meters_notify_tenancy();
  `);
};

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.down = (pgm) => {
  pgm.sql(`
    DROP TRIGGER meters_tenancy_updated ON meters;
    CREATE TRIGGER meters_tenancy_updated AFTER UPDATE OF meter_id, society_id, group_id ON meters
      FOR EACH ROW
      WHEN (OLD.meter_id IS DISTINCT FROM NEW.meter_id OR OLD.society_id IS DISTINCT FROM NEW.society_id
            OR OLD.group_id IS DISTINCT FROM NEW.group_id)
      EXECUTE FUNCTION meters_notify_tenancy();
    DROP TRIGGER meters_departure_deleted ON meters;
    DROP TRIGGER meters_history_from_moved ON meters;
    DROP TRIGGER meters_history_from_inserted ON meters;
    DROP FUNCTION meters_record_departure();
    DROP FUNCTION meters_history_from();
    DROP FUNCTION meter_history_floor(text, uuid);
    DROP TABLE meter_departures;
    ALTER TABLE meters DROP COLUMN history_from;
    DROP FUNCTION meter_history_instant();
  `);
};
