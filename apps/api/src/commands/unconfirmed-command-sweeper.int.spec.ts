/**
 * The unconfirmed-command sweeper on the real database and app: commands left 'queued' longer than the timeout
 * (the process died between recording and the broker's acknowledgement) become failed with NOT_CONFIRMED, in
 * the API's answers too; recent queued, sent and failed commands are left alone; a late acknowledgement still
 * wins; the timer sweeps by itself and stops cleanly.
 */
import pino from 'pino';
import { createMeter, createUser, login, startHarness } from '../test-harness';
import { CommandsRepository } from './commands.repository';
import {
  DEFAULT_CONFIRM_TIMEOUT_SECONDS,
  NOT_CONFIRMED,
  UnconfirmedCommandSweeper,
  commandConfirmTimeoutMs,
} from './unconfirmed-command-sweeper';

jest.setTimeout(30_000);

type Harness = Awaited<ReturnType<typeof startHarness>>;

const TIMEOUT_MS = 5 * 60_000;

describe('unconfirmed command sweeper', () => {
  let harness: Harness;
  let repository: CommandsRepository;
  let society: string;
  let admin: string;

  /** A command row as the API leaves it, requested `ageMs` ago. */
  async function command(status: 'queued' | 'sent' | 'failed', ageMs: number): Promise<string> {
    const result = await harness.pool.query<{ id: string }>(
      `INSERT INTO meter_commands (meter_id, society_id, kind, status, requested_by, requested_at, sent_at, error)
       VALUES ('12345678', $1, 'read_request', $2::text, 'user:test', clock_timestamp() - $3 * interval '1 millisecond',
               CASE WHEN $2::text = 'sent' THEN clock_timestamp() END,
               CASE WHEN $2::text = 'failed' THEN 'broker unavailable' END)
       RETURNING id`,
      [society, status, ageMs],
    );
    return result.rows[0].id;
  }

  const statusOf = async (id: string) =>
    (await harness.http().get(`/api/v1/commands/${id}`).auth(admin, { type: 'bearer' }).expect(200)).body as {
      status: string;
      error: string | null;
      sentAt: string | null;
    };

  beforeAll(async () => {
    harness = await startHarness();
    repository = new CommandsRepository(harness.pool);
    society = (await harness.pool.query(`INSERT INTO societies (name) VALUES ('S') RETURNING id`)).rows[0].id;
    await createMeter(harness.pool, '12345678', society);
    await createUser(harness.pool, 'admin@example.org', [{ societyId: society, role: 'society_admin' }]);
    admin = (await login(harness, 'admin@example.org')).accessToken;
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('fails only the commands queued for longer than the timeout, as the API then shows', async () => {
    const stuck = await command('queued', TIMEOUT_MS + 60_000);
    const recent = await command('queued', TIMEOUT_MS - 60_000);
    const oldSent = await command('sent', TIMEOUT_MS * 3);
    const oldFailed = await command('failed', TIMEOUT_MS * 3);
    const sweeper = new UnconfirmedCommandSweeper(repository, {
      timeoutMs: TIMEOUT_MS,
      logger: pino({ level: 'silent' }),
    });

    expect((await sweeper.sweep()).map((c) => c.id)).toEqual([stuck]);
    expect(await statusOf(stuck)).toMatchObject({ status: 'failed', error: NOT_CONFIRMED, sentAt: null });
    expect(await statusOf(recent)).toMatchObject({ status: 'queued', error: null });
    expect(await statusOf(oldSent)).toMatchObject({ status: 'sent', error: null });
    expect(await statusOf(oldFailed)).toMatchObject({ status: 'failed', error: 'broker unavailable' });
    // A second pass (or another instance sweeping at once) finds nothing more.
    expect(await sweeper.sweep()).toEqual([]);

    // The broker's acknowledgement arriving after the sweep is the truth: sent, without the error.
    await repository.markSent(stuck);
    expect(await statusOf(stuck)).toMatchObject({ status: 'sent', error: null, sentAt: expect.any(String) });
  });

  it('fails each stuck command once when several API workers sweep at the same moment', async () => {
    // Every API process (each worker of API_WORKERS) runs a sweeper; each sweep is one UPDATE ... WHERE status =
    // 'queued', so a row another sweep has just failed is re-checked under its lock and skipped.
    const stuck = await Promise.all(Array.from({ length: 30 }, () => command('queued', TIMEOUT_MS + 60_000)));
    const sweepers = [1, 2, 3].map(
      () =>
        new UnconfirmedCommandSweeper(new CommandsRepository(harness.pool), {
          timeoutMs: TIMEOUT_MS,
          logger: pino({ level: 'silent' }),
        }),
    );
    const failedBySweeper = await Promise.all(sweepers.map((sweeper) => sweeper.sweep()));
    const failed = failedBySweeper.flatMap((commands) => commands.map((c) => c.id));
    expect(failed.sort()).toEqual([...stuck].sort());
  });

  it('sweeps on its own timer and stops cleanly', async () => {
    const stuck = await command('queued', 60_000);
    const sweeper = new UnconfirmedCommandSweeper(repository, {
      timeoutMs: 30_000,
      intervalMs: 50,
      logger: pino({ level: 'silent' }),
    });
    sweeper.start();
    try {
      const deadline = Date.now() + 5_000;
      while ((await statusOf(stuck)).status === 'queued' && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await sweeper.stop();
    }
    expect(await statusOf(stuck)).toMatchObject({ status: 'failed', error: NOT_CONFIRMED });
    const later = await command('queued', 60_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await statusOf(later)).status).toBe('queued');
  });

  it('reads its timeout from API_COMMAND_CONFIRM_TIMEOUT_SECONDS', () => {
    expect(commandConfirmTimeoutMs({})).toBe(DEFAULT_CONFIRM_TIMEOUT_SECONDS * 1000);
    expect(commandConfirmTimeoutMs({ API_COMMAND_CONFIRM_TIMEOUT_SECONDS: ' 120 ' })).toBe(120_000);
    for (const bad of ['10', '1.5', 'five'])
      expect(() => commandConfirmTimeoutMs({ API_COMMAND_CONFIRM_TIMEOUT_SECONDS: bad })).toThrow(
        /API_COMMAND_CONFIRM_TIMEOUT_SECONDS/,
      );
  });
});
