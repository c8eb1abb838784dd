import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Client, Pool } from 'pg';

/**
 * PGlite (PostgreSQL 17 in WASM) with TimescaleDB, served over the PostgreSQL wire protocol from a child
 * process, so production code talks to it through node-postgres exactly as it talks to a real server.
 *
 * The build has one session only (see ../shared/infra/timescaledb.md): use a pool of one connection, and
 * every new connection must forget prepared statements and reload the extension before anything else.
 */
export interface PgliteTimescaleServer {
  /** postgres:// URL of the socket server (one connection at a time). */
  url: string;
  /** A pool of exactly one connection; each connection is prepared by `prepareConnection`. */
  pool: Pool;
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 30_000;

/** What every connection to the PGlite server must run first, as one simple-protocol round trip. */
export const PREPARE_CONNECTION_SQL = `DEALLOCATE ALL; LOAD 'timescaledb'; SET client_min_messages = warning`;

type ConnectCallback = ((err: Error) => void) | ((err: null, client: Client) => void);

/** A pg client that prepares its PGlite session as part of connecting, before the pool hands it out. */
class PgliteSessionClient extends Client {
  override connect(): Promise<Client>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<Client> | void {
    const ready = super
      .connect()
      .then(() => this.query(PREPARE_CONNECTION_SQL))
      .then(() => this as Client);
    if (!callback) return ready;
    ready.then(
      (client) => (callback as (err: null, client: Client) => void)(null, client),
      (error: Error) => (callback as (err: Error) => void)(error),
    );
  }
}

/** A pg Pool for the PGlite server: exactly one connection, each prepared on connect. */
export function createPgliteTimescalePool(url: string): Pool {
  return new Pool({
    connectionString: url,
    max: 1,
    idleTimeoutMillis: 0,
    Client: PgliteSessionClient as new () => Client,
  });
}

function waitForPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(
      () => reject(new Error(`PGlite server did not start in ${STARTUP_TIMEOUT_MS} ms: ${stderr}`)),
      STARTUP_TIMEOUT_MS,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`PGlite server exited with code ${code}: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^listening (\d+)$/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
  });
}

/** Starts a fresh in-memory PGlite with the TimescaleDB extension available (not yet created). */
export async function startPgliteTimescale(): Promise<PgliteTimescaleServer> {
  const child = spawn(process.execPath, [path.join(__dirname, 'pglite-server-process.mjs')], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const port = await waitForPort(child);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const pool = createPgliteTimescalePool(url);
  return {
    url,
    pool,
    async stop() {
      await pool.end();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin?.end();
      await exited;
    },
  };
}
