import { Command, CommanderError } from 'commander';
import { CliIo, EXIT_OK, EXIT_USAGE, UsageError } from './cli-io';
import { registerDecodeCommand } from './commands/decode';
import { registerGatewaysCommand } from './commands/gateways';
import { registerMigrateCommand } from './commands/migrate';
import { registerUsersCommand } from './commands/users';
import { registerSimulateCommand } from './commands/simulate';

/**
 * Runs the `hes` command line against the given streams and returns the exit code. Telegrams that
 * fail to decode are output lines, not failures: only usage errors (bad flags, unreadable or
 * malformed key/format files, input that is not hex at all) give a non-zero code.
 */
export async function runCli(args: string[], io: CliIo): Promise<number> {
  const program = new Command('hes')
    .description('head-end system tools for wireless M-Bus smart meters')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });
  registerDecodeCommand(program, io);
  registerMigrateCommand(program, io);
  registerGatewaysCommand(program, io);
  registerUsersCommand(program, io);
  registerSimulateCommand(program, io);
  try {
    await program.parseAsync(args, { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    // Commander has already printed its own message (or the help text).
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    if (error instanceof UsageError) {
      io.stderr.write(`hes: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
}
