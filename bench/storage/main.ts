import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { Reading, ReadingWriter, createPool, runMigrations } from '@hes/storage';

/**
 * ReadingWriter throughput on the real PostgreSQL server, plain dialect (daily partitions + readings_30m rollup
 * maintained in the same statement): fresh rows, then the same rows replayed (all duplicates, as from
 * overlapping gateways). Creates and drops its own database.
 * Run after `npm run build`: `node dist/bench/storage/main.js`
 * (BENCH_POSTGRES_URL, BENCH_METERS, BENCH_READINGS_PER_METER, BENCH_BATCH, BENCH_WRITERS).
 */
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const METERS = Number(process.env.BENCH_METERS ?? 1_000);
const READINGS_PER_METER = Number(process.env.BENCH_READINGS_PER_METER ?? 500);
const BATCH = Number(process.env.BENCH_BATCH ?? 10_000);
const WRITERS = Number(process.env.BENCH_WRITERS ?? 2);
const QUANTITIES = ['volume', 'flow_temperature'];

/** Design-load shaped rows: every meter reports every quantity each 5 minutes, ending now. */
function* batches(start: number): Generator<Reading[]> {
  let batch: Reading[] = [];
  for (let i = 0; i < READINGS_PER_METER; i++) {
    const ts = new Date(start + i * 300_000);
    for (let m = 0; m < METERS; m++) {
      const meterId = String(10_000_000 + m);
      for (const quantity of QUANTITIES) {
        batch.push({
          meterId,
          ts,
          quantity,
          storage: 0,
          tariff: 0,
          unit: 'm3',
          value: m + i / 1000,
          source: 'gateway',
        });
        if (batch.length === BATCH) {
          yield batch;
          batch = [];
        }
      }
    }
  }
  if (batch.length > 0) yield batch;
}

async function pass(
  writer: ReadingWriter,
  start: number,
): Promise<{ rows: number; inserted: number; seconds: number }> {
  const source = batches(start);
  let rows = 0;
  let inserted = 0;
  const started = process.hrtime.bigint();
  // WRITERS concurrent batches, as consumers on different partitions would write them.
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      for (let next = source.next(); !next.done; next = source.next()) {
        const result = await writer.write(next.value);
        rows += next.value.length;
        inserted += result.inserted;
      }
    }),
  );
  return { rows, inserted, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

async function main(): Promise<void> {
  const name = `hes_bench_storage_${randomBytes(3).toString('hex')}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), { max: WRITERS + 1 });
  try {
    await runMigrations(pool, { dialect: 'postgres' });
    const writer = new ReadingWriter(pool);
    // Both passes use the same receive times, so the replay is an exact duplicate of the fresh pass.
    const start = Date.now() - READINGS_PER_METER * 300_000;
    const fresh = await pass(writer, start);
    const replay = await pass(writer, start);
    const rollups = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM readings_30m');
    const report = (label: string, run: typeof fresh) =>
      `${label}: ${run.rows} rows, ${run.inserted} inserted, ${run.seconds.toFixed(2)} s, ` +
      `${Math.round(run.rows / run.seconds).toLocaleString('en')} rows/s`;
    console.log(
      `batch ${BATCH}, ${WRITERS} concurrent writers, ${METERS} meters x ${QUANTITIES.length} quantities`,
    );
    console.log(report('fresh ', fresh));
    console.log(report('replay', replay));
    console.log(`readings_30m rows: ${rollups.rows[0].n}`);
  } finally {
    await pool.end();
    await admin.query(`DROP DATABASE "${name}" WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
