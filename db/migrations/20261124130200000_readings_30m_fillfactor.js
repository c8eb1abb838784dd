// @ts-check
/**
 * Plain PostgreSQL: free space in readings_30m's pages so the writer's rollup upserts are HOT updates. A meter
 * sends every 16 s, so each bucket row is updated about 110 times in its 30 minutes; none of the updated columns
 * is indexed, so an update can stay on its page (no new entries in the two indexes) whenever the page has room for
 * the new row version. With full pages (fillfactor 100) almost none had, and each update also inserted into both
 * indexes. Pages are pruned of the dead versions as they are updated, so the free space is reused.
 * Existing pages keep their layout; new bucket rows go to pages filled only up to the fillfactor.
 * TimescaleDB: readings_30m is a continuous aggregate refreshed by its policy, not updated per reading; nothing.
 */

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
async function dialectOf(pgm) {
  const [row] = await pgm.db.select(`SELECT value FROM storage_settings WHERE key = 'dialect'`);
  return row.value;
}

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.up = async (pgm) => {
  if ((await dialectOf(pgm)) === 'timescaledb') return;
  pgm.sql('ALTER TABLE readings_30m SET (fillfactor = 50)');
};

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
exports.down = async (pgm) => {
  if ((await dialectOf(pgm)) === 'timescaledb') return;
  pgm.sql('ALTER TABLE readings_30m RESET (fillfactor)');
};
