// @ts-check
/**
 * Meter tenancy changes are announced on the `hes_meter_tenancy` channel, so that an API process may remember a
 * meter's society and group in memory and forget them the moment they change (MeterTenancyCache in
 * apps/api/src/readings/meter-tenancy-cache.ts): the payload is the meter id when a meter moves to another
 * society or group, is renamed or is deleted, and empty when the table is truncated (forget every meter).
 * NOTIFY is delivered at commit, to sessions listening at that moment; a listener that lost its connection does
 * not get what it missed, which is why the API remembers nothing while it is not listening. Dialect-neutral.
 */

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.up = (pgm) => {
  pgm.sql(`
    CREATE FUNCTION meters_notify_tenancy() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('hes_meter_tenancy', CASE WHEN TG_LEVEL = 'ROW' THEN OLD.meter_id ELSE '' END);
      RETURN NULL;
    END $$;

    CREATE TRIGGER meters_tenancy_updated AFTER UPDATE OF meter_id, society_id, group_id ON meters
      FOR EACH ROW
      WHEN (OLD.meter_id IS DISTINCT FROM NEW.meter_id OR OLD.society_id IS DISTINCT FROM NEW.society_id
            OR OLD.group_id IS DISTINCT FROM NEW.group_id)
      EXECUTE FUNCTION meters_notify_tenancy();
    CREATE TRIGGER meters_tenancy_deleted AFTER DELETE ON meters
      FOR EACH ROW EXECUTE FUNCTION meters_notify_tenancy();
    CREATE TRIGGER meters_tenancy_truncated AFTER TRUNCATE ON meters
      FOR EACH STATEMENT EXECUTE FUNCTION meters_notify_tenancy();
  `);
};

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.down = (pgm) => {
  pgm.sql(`
    DROP TRIGGER meters_tenancy_truncated ON meters;
    DROP TRIGGER meters_tenancy_deleted ON meters;
    DROP TRIGGER meters_tenancy_updated ON meters;
    DROP FUNCTION meters_notify_tenancy();
  `);
};
