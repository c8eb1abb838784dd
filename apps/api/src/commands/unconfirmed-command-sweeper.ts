import type { Logger } from 'pino';
import type { CommandsRepository, MeterCommand } from './commands.repository';

/** The error an unconfirmed command is failed with. */
export const NOT_CONFIRMED = 'not confirmed by the broker';

/** Default of API_COMMAND_CONFIRM_TIMEOUT_SECONDS. */
export const DEFAULT_CONFIRM_TIMEOUT_SECONDS = 300;

/**
 * API_COMMAND_CONFIRM_TIMEOUT_SECONDS: how long a command may stay 'queued' before the sweeper fails it. It must
 * exceed the longest publish (the publisher waits up to 5 s for a connection, then the producer's own retries),
 * or a command still being published would be failed and then flipped to sent by its late acknowledgement.
 */
export function commandConfirmTimeoutMs(env: NodeJS.ProcessEnv): number {
  const raw = env.API_COMMAND_CONFIRM_TIMEOUT_SECONDS?.trim();
  if (raw === undefined || raw === '') return DEFAULT_CONFIRM_TIMEOUT_SECONDS * 1000;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 30)
    throw new Error(`API_COMMAND_CONFIRM_TIMEOUT_SECONDS: '${raw}' is not a whole number of seconds >= 30`);
  return seconds * 1000;
}

export interface UnconfirmedCommandSweeperOptions {
  /** Age after which a queued command counts as lost. */
  timeoutMs: number;
  /** How often to look; by default a fifth of the timeout, at most once a minute. */
  intervalMs?: number;
  logger: Logger;
}

/**
 * Fails commands stuck in 'queued': the API records a command, then publishes it and marks it sent once the
 * broker acknowledged; a process that died in between leaves it queued forever. They are failed with
 * NOT_CONFIRMED rather than sent again, because "queued" cannot tell "never produced" from "produced, but the
 * acknowledgement was lost with the process": a re-send could run a disconnect or set_interval twice, minutes
 * after the operator was told nothing. A failed command is visible, and the operator decides whether to repeat it.
 */
export class UnconfirmedCommandSweeper {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<unknown> | undefined;
  private readonly intervalMs: number;

  constructor(
    private readonly commands: CommandsRepository,
    private readonly options: UnconfirmedCommandSweeperOptions,
  ) {
    this.intervalMs = options.intervalMs ?? Math.min(options.timeoutMs / 5, 60_000);
  }

  start(): void {
    this.timer ??= setInterval(() => {
      this.sweeping ??= this.sweep()
        .catch((error: unknown) =>
          this.options.logger.warn({ err: error }, 'unconfirmed command sweep failed; retried next interval'),
        )
        .finally(() => (this.sweeping = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping;
  }

  /** One pass: fails the commands queued for longer than the timeout and returns them. */
  async sweep(): Promise<MeterCommand[]> {
    const failed = await this.commands.failUnconfirmed(this.options.timeoutMs, NOT_CONFIRMED);
    if (failed.length > 0)
      this.options.logger.warn(
        { commandIds: failed.map((command) => command.id), timeoutMs: this.options.timeoutMs },
        `${failed.length} queued commands were not confirmed by the broker in time: marked failed`,
      );
    return failed;
  }
}
