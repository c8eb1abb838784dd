import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { hashApiKey, MeterKeyCipher } from '@hes/keys';
import { createPool, GatewayRepository, MeterKeyRepository, runMigrations } from '@hes/storage';
import { createTestDatabase, type TestDatabase } from '@hes/testing';
import { CompactFormatStore, decodeTelegram, parseHex, readingsOf } from '@hes/wmbus';
import type { Pool } from 'pg';
import { registerSimulateCommand } from '../commands/simulate';
import { parseKeyFile } from '../key-file';

/**
 * `hes simulate --register` against a throw-away PostgreSQL database, sending over HTTP to a small local
 * HTTP server written for this test (not the collector): it authenticates each request by the SHA-256 of
 * the Bearer key against the gateways table the simulator registered, drops exact byte duplicates as the
 * collector does, answers the first request with 429 + Retry-After, and records every item.
 */
class RecordingCollector {
  readonly items: Array<{ telegram: string; receivedAt: string; gatewayId?: string; at: number }> = [];
  readonly statuses: number[] = [];
  private readonly seen = new Set<string>();
  private server!: Server;
  private throttleFirst = true;

  constructor(private readonly gateways: GatewayRepository) {}

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      void this.handle(request).then(({ status, body, headers }) => {
        this.statuses.push(status);
        response.writeHead(status, { 'content-type': 'application/json', ...headers });
        response.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(
    request: IncomingMessage,
  ): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const key = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
    const gateway = key === undefined ? undefined : await this.gateways.findActiveByKeyHash(hashApiKey(key));
    if (request.url !== '/api/v1/gateways/telegrams' || gateway === undefined)
      return { status: 401, body: {} };
    if (this.throttleFirst) {
      this.throttleFirst = false;
      return { status: 429, body: { message: 'overloaded' }, headers: { 'retry-after': '1' } };
    }
    const items = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Array<{
      telegram: string;
      receivedAt: string;
      gatewayId?: string;
    }>;
    const results = items.map((item, index) => {
      if (item.gatewayId !== undefined && item.gatewayId !== gateway.id) {
        return { index, status: 'rejected', reason: { code: 'GATEWAY_MISMATCH' } };
      }
      this.items.push({ ...item, at: Date.now() });
      const duplicate = this.seen.has(item.telegram);
      this.seen.add(item.telegram);
      return { index, status: duplicate ? 'duplicate' : 'accepted' };
    });
    return { status: 200, body: { results } };
  }
}

async function simulate(args: string[], env: NodeJS.ProcessEnv) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const program = new Command('hes').exitOverride();
  registerSimulateCommand(program, { stdin: new PassThrough(), stdout, stderr, now: () => new Date() }, env);
  await program.parseAsync(['simulate', ...args], { from: 'user' });
  return { summary: JSON.parse(out.trim().split('\n').at(-1)!), stderr: err };
}

describe('hes simulate --register over HTTP (PostgreSQL + local recording HTTP server)', () => {
  let database: TestDatabase;
  let pool: Pool;
  let collector: RecordingCollector;
  let url: string;
  let dir: string;
  const masterKey = randomBytes(32);
  const apiKeys = [
    'hesgw_test_one_' + randomBytes(8).toString('hex'),
    'hesgw_test_two_' + randomBytes(8).toString('hex'),
  ];
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    database = await createTestDatabase('hes_simulate');
    await runMigrations(database.url, { dialect: 'postgres' });
    pool = createPool(database.url, { max: 2 });
    collector = new RecordingCollector(new GatewayRepository(pool));
    url = await collector.start();
    dir = mkdtempSync(join(tmpdir(), 'hes-simulate-'));
    env = { DATABASE_URL: database.url, HES_MASTER_KEY: masterKey.toString('hex') };
  });

  afterAll(async () => {
    await collector.stop();
    await pool.end();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers the fleet idempotently, sends at the requested rate through a 429, and reports exact counts', async () => {
    const keysFile = join(dir, 'keys.csv');
    const common = [
      '--meters',
      '120',
      '--seed',
      '11',
      '--groups',
      '3',
      '--name-prefix',
      'itest',
      '--register',
    ];
    const started = Date.now();
    const first = await simulate(
      [
        ...common,
        '--export-keys',
        keysFile,
        '--api-key',
        ...apiKeys,
        '--url',
        url,
        '--rate',
        '300',
        '--duration',
        '4',
        '--duplicates',
        '0.2',
        '--batch-size',
        '50',
        '--progress-interval',
        '1',
      ],
      env,
    );
    const { summary } = first;

    // Registry: meters in their groups, keys encrypted under the master key and equal to the exported ones.
    const meters = await pool.query<{ n: number; groups: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT group_id)::int AS groups FROM meters`,
    );
    expect(meters.rows[0]).toEqual({ n: 120, groups: 3 });
    const groupNames = (await pool.query<{ name: string }>('SELECT name FROM meter_groups ORDER BY name'))
      .rows;
    expect(groupNames.map((g) => g.name)).toEqual([
      'default',
      'itest-group-001',
      'itest-group-002',
      'itest-group-003',
    ]);
    const exported = parseKeyFile(readFileSync(keysFile, 'utf8'), keysFile);
    expect(exported.size).toBe(120);
    expect(statSync(keysFile).mode & 0o777).toBe(0o600);
    const cipher = new MeterKeyCipher(masterKey);
    const stored = await new MeterKeyRepository(pool).loadAll();
    expect(stored).toHaveLength(120);
    for (const record of stored) {
      expect(cipher.decrypt(record.meterId, record).equals(exported.get(record.meterId)!)).toBe(true);
    }
    expect(summary.registration).toEqual({
      groupsCreated: 3,
      metersWritten: 120,
      keysWritten: 120,
      gatewaysCreated: 2,
      gateways: ['itest-gw-01', 'itest-gw-02'],
    });

    // Rate: 300/s for 4 s, with one 429 (Retry-After 1 s) costing a second; never above rate x time + one bucket.
    expect(summary.throttled429).toBe(1);
    expect(summary.retries).toBe(1);
    expect(collector.statuses.filter((s) => s === 429)).toHaveLength(1);
    const elapsed = (Date.now() - started) / 1000;
    expect(summary.sent).toBeGreaterThan(300 * 2);
    expect(summary.sent).toBeLessThanOrEqual(300 * elapsed + 100);
    expect(collector.items).toHaveLength(summary.sent);

    // Exact accounting against what the server saw.
    const unique = new Set(collector.items.map((item) => item.telegram));
    expect(summary.uniqueAccepted).toBe(unique.size);
    expect(summary.accepted).toBe(unique.size);
    expect(summary.duplicates).toBe(collector.items.length - unique.size);
    expect(summary.duplicateCopiesSent).toBe(summary.duplicates);
    expect(summary.rejected).toBe(0);
    const formats = CompactFormatStore.withKnownFormats();
    let readings = 0;
    for (const hex of unique) {
      const telegram = parseHex(hex)!;
      const result = decodeTelegram(telegram, { key: (id) => exported.get(id), formats });
      expect(result.error).toBeUndefined();
      readings += readingsOf(result.header!, result.records).length;
    }
    expect(summary.expectedReadings).toBe(readings);
    expect(first.stderr).toMatch(/simulate: \d+\.\ds sent \d+/);

    // Second run: same seed and keys, nothing to write; sending by count.
    const second = await simulate(
      [...common, '--api-key', ...apiKeys, '--url', url, '--count', '30', '--rate', '1000'],
      env,
    );
    expect(second.summary.registration).toMatchObject({
      groupsCreated: 0,
      metersWritten: 0,
      keysWritten: 0,
      gatewaysCreated: 0,
    });
    expect(second.summary.originalsSent).toBe(30);
    expect(second.summary.stoppedBy).toBe('count');
    // A re-run of the same seed sends new bytes (session numbers start from the run's start time).
    expect(second.summary.uniqueAccepted).toBe(30);
    expect((await new MeterKeyRepository(pool).loadAll()).every((record) => record.version === 1)).toBe(true);
  });
});
