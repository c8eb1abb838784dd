import type { Readable, Writable } from 'node:stream';

/** The process streams and clock a command runs against; tests pass their own. */
export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  now: () => Date;
}

/**
 * A problem with how the command was invoked (bad flag, unreadable or malformed key/format file):
 * reported on stderr with exit code 2. Bad telegrams are data, not usage errors, and never raise this.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const EXIT_OK = 0;
export const EXIT_USAGE = 2;

/** Writes one line, waiting for the stream to drain so that a slow consumer does not make output pile up. */
export async function writeLine(out: Writable, line: string): Promise<void> {
  if (!out.write(`${line}\n`)) {
    await new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        out.off('error', onError);
        resolve();
      };
      const onError = (error: Error) => {
        out.off('drain', onDrain);
        reject(error);
      };
      out.once('drain', onDrain);
      out.once('error', onError);
    });
  }
}
