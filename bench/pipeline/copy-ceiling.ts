import { createReadStream, createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Pool } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';

export interface CopyCeiling {
  rows: number;
  seconds: number;
  rowsPerSecond: number;
}

const COLUMNS = 'meter_id, ts, quantity, storage, tariff, unit, value, source, quality';

/**
 * The ceiling for the pipeline's storage stage: a bare COPY of rows the pipeline stored into a table of the
 * same shape (the same columns and primary key, partitioned by UTC day like `readings`), with nothing else
 * (no rollup, no ON CONFLICT, no network hop to Kafka). The rows are first exported to a file so that only
 * COPY FROM is timed.
 */
export async function measureCopyCeiling(pool: Pool, file: string, maxRows: number): Promise<CopyCeiling> {
  const client = await pool.connect();
  try {
    await pipeline(
      client.query(
        copyTo(`COPY (SELECT ${COLUMNS} FROM readings ORDER BY ts LIMIT ${Math.floor(maxRows)}) TO STDOUT`),
      ),
      createWriteStream(file),
    );
    await client.query(`
      DROP TABLE IF EXISTS readings_copy_ceiling;
      CREATE TABLE readings_copy_ceiling (LIKE readings INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
        PARTITION BY RANGE (ts);
      ALTER TABLE readings_copy_ceiling ADD PRIMARY KEY (meter_id, quantity, storage, tariff, ts);`);
    const days = await client.query<{ day: string }>(
      `SELECT DISTINCT to_char(date_trunc('day', ts AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day FROM readings`,
    );
    for (const { day } of days.rows) {
      await client.query(
        `CREATE TABLE "readings_copy_ceiling_${day.replace(/-/g, '')}" PARTITION OF readings_copy_ceiling
           FOR VALUES FROM ('${day} 00:00:00+00') TO (('${day}'::date + 1)::timestamp AT TIME ZONE 'UTC')`,
      );
    }
    const started = process.hrtime.bigint();
    const sink = client.query(copyFrom(`COPY readings_copy_ceiling (${COLUMNS}) FROM STDIN`));
    await pipeline(createReadStream(file), sink);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const rows = Number(sink.rowCount);
    await client.query('DROP TABLE readings_copy_ceiling');
    return { rows, seconds, rowsPerSecond: rows / seconds };
  } finally {
    client.release();
    await unlink(file).catch(() => undefined);
  }
}
