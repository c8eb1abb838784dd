// @ts-check
/**
 * Commands sent to meters (read request, connect, disconnect, reporting interval) and the note an operator may
 * leave when acknowledging an event. A command row is written 'queued' before it is produced to the commands
 * topic and becomes 'sent' only once the broker acknowledged it, or 'failed' with the broker's error, so the
 * table tells exactly which commands left the head-end. society_id is the meter's society when the command was
 * requested: the command stays in that tenant's history if the meter later moves. Dialect-neutral plain table.
 */

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.up = (pgm) => {
  pgm.sql(`
    CREATE TABLE meter_commands (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      meter_id text NOT NULL REFERENCES meters (meter_id) ON DELETE CASCADE,
      society_id uuid REFERENCES societies (id) ON DELETE CASCADE,
      kind text NOT NULL CHECK (kind IN ('read_request', 'connect', 'disconnect', 'set_interval')),
      params jsonb NOT NULL DEFAULT '{}',
      status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
      requested_by text NOT NULL,
      requested_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      sent_at timestamptz,
      error text,
      CHECK ((status = 'sent') = (sent_at IS NOT NULL)),
      CHECK ((status = 'failed') = (error IS NOT NULL))
    );
    CREATE INDEX meter_commands_meter_requested_idx ON meter_commands (meter_id, requested_at DESC, id DESC);
    CREATE INDEX meter_commands_society_id_idx ON meter_commands (society_id);

    ALTER TABLE events ADD COLUMN acknowledgement_note text;
  `);
};

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.down = (pgm) => {
  pgm.sql(`
    ALTER TABLE events DROP COLUMN acknowledgement_note;
    DROP TABLE meter_commands;
  `);
};
