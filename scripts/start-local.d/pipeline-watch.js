// Used by 60-pipeline.sh: prints, every few seconds, the readings stored in PostgreSQL (total and rate) and
// the latest total volume (total_m3) of a few of the simulated fleet's meters as the Redis cache holds it. Ends on SIGTERM/SIGINT.
'use strict';
const { Client } = require('pg');
const Redis = require('ioredis');

const [groupPrefix = 'demo', seconds = '5'] = process.argv.slice(2);
const intervalMs = Math.max(1, Number(seconds)) * 1000;
const shown = 3;

async function main() {
  const db = new Client({
    connectionString: process.env.DATABASE_URL,
    application_name: 'hes-start-local-watch',
  });
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  await db.connect();
  const meters = (
    await db.query(
      `SELECT m.meter_id FROM meters m JOIN meter_groups g ON g.id = m.group_id
       WHERE g.name LIKE $1 ORDER BY m.meter_id LIMIT ${shown}`,
      [`${groupPrefix}-%`],
    )
  ).rows.map((row) => row.meter_id);
  let previous;
  let stopping = false;
  let wake = () => undefined;
  const stop = () => {
    stopping = true;
    wake();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  while (!stopping) {
    const at = Date.now();
    const { rows } = await db.query('SELECT count(*)::bigint AS n FROM readings');
    const stored = Number(rows[0].n);
    const rate = previous ? ((stored - previous.stored) * 1000) / (at - previous.at) : 0;
    previous = { stored, at };
    const latest = await Promise.all(
      meters.map(async (meterId) => {
        const total = await redis.hget(`hes:latest:${meterId}`, 'total_m3').catch(() => null);
        if (!total) return `${meterId} -`;
        const reading = JSON.parse(total);
        const age = Math.round((Date.now() - reading.ts) / 1000);
        return `${meterId} ${reading.value} ${reading.unit} (${age} s ago)`;
      }),
    );
    console.log(
      `${new Date(at).toISOString().slice(11, 19)} readings stored: ${stored} (${rate.toFixed(0)}/s) | latest: ${latest.join(' | ')}`,
    );
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, intervalMs);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  await db.end();
  redis.disconnect();
}

main().catch((error) => {
  console.error(`watch: ${error.message}`);
  process.exit(1);
});
