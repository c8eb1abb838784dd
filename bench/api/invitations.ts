import { hashPassword, UserRepository } from '@hes/auth';
import { createBenchDatabase, log, startApiServer } from './seed';

/**
 * Whether the time of a refused invitation acceptance tells the token's holder if the invited email has an account.
 * Two pending invitations of one society, one to an email with an account and one to an email without, are
 * refused over and over, alternating request by request (in a new random order each round) so that machine load falls on all kinds alike: with a
 * password (a wrong one for the account: one Argon2 verification of its hash; no displayName for the new email: one
 * Argon2 verification of a decoy hash), and without any (no Argon2 work for either). Prints each kind's latency
 * distribution: the two of a pair should overlap, while the pairs lie one Argon2 verification apart (which shows
 * that the bench resolves a difference of that size).
 * `node <compiled>/bench/api/invitations.js`. Env: BENCH_POSTGRES_URL, BENCH_REDIS_URL (default
 * redis://127.0.0.1:6379/10), BENCH_ATTEMPTS (300 per kind), LOG_LEVEL (warn).
 */
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/10';
const ATTEMPTS = Number(process.env.BENCH_ATTEMPTS ?? 300);
const WARM_UP = 20;
const ADMIN = { email: 'bench-admin@example.org', password: 'bench admin password, not a secret' };

async function post(baseUrl: string, path: string, body: object, token?: string) {
  const response = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summary(latencies: number[]): string {
  const sorted = [...latencies].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  const figures = [10, 50, 90, 99].map((p) => `p${p} ${percentile(sorted, p).toFixed(1)}`);
  return `${figures.join(', ')}, mean ${mean.toFixed(1)} ms (n=${sorted.length})`;
}

async function main(): Promise<void> {
  const database = await createBenchDatabase(ADMIN_URL, 'hes_bench_invitations');
  // The acceptances are login-throttled; the bench is one client address making hundreds of attempts.
  process.env.API_LOGIN_RATE_LIMIT_PER_MINUTE = '10000';
  const server = await startApiServer({
    databaseUrl: database.url,
    redisUrl: REDIS_URL,
    logLevel: process.env.LOG_LEVEL ?? 'warn',
  });
  try {
    const society = await database.pool.query<{ id: string }>(
      `INSERT INTO societies (name) VALUES ('Bench society') RETURNING id`,
    );
    const users = new UserRepository(database.pool);
    const admin = await users.create({
      email: ADMIN.email,
      displayName: 'bench admin',
      passwordHash: await hashPassword(ADMIN.password),
    });
    await users.setMembership(admin.id, society.rows[0].id, 'society_admin');
    await users.create({
      email: 'has-account@example.org',
      displayName: 'has account',
      passwordHash: await hashPassword('the account password, unknown to the admin'),
    });
    const login = await post(server.baseUrl, '/api/v1/auth/login', ADMIN);
    const adminToken = login.body.accessToken as string;
    const invite = async (email: string) =>
      (
        await post(
          server.baseUrl,
          `/api/v1/societies/${society.rows[0].id}/invitations`,
          { email, role: 'viewer' },
          adminToken,
        )
      ).body.token as string;
    const withAccount = await invite('has-account@example.org');
    const withoutAccount = await invite('no-account@example.org');
    const guessed = { password: 'a guessed password of the admin' };
    const kinds = [
      { name: 'email with an account, wrong password', body: { token: withAccount, ...guessed } },
      {
        name: 'email without an account, password, no displayName',
        body: { token: withoutAccount, ...guessed },
      },
      { name: 'email with an account, no password', body: { token: withAccount } },
      { name: 'email without an account, no password', body: { token: withoutAccount } },
    ];
    const latencies = kinds.map(() => [] as number[]);
    log(`${ATTEMPTS} refused acceptances per kind, alternating, after ${WARM_UP} each to warm up`);
    for (let attempt = 0; attempt < WARM_UP + ATTEMPTS; attempt += 1) {
      // A new order each round: a request right after an Argon2 one runs slower (caches, the collector), which must
      // not fall on one kind more than another.
      const order = kinds.map((_, index) => index).sort(() => Math.random() - 0.5);
      for (const index of order) {
        const kind = kinds[index];
        const started = performance.now();
        const answer = await post(server.baseUrl, '/api/v1/invitations/accept', kind.body);
        const elapsed = performance.now() - started;
        if (answer.status !== 401) throw new Error(`${kind.name}: HTTP ${answer.status}`);
        if (attempt >= WARM_UP) latencies[index].push(elapsed);
      }
    }
    for (const [index, kind] of kinds.entries()) log(`${kind.name}: ${summary(latencies[index])}`);
  } finally {
    await server.stop();
    await database.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
