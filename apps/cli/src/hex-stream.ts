import { UsageError } from './cli-io';

const WHITESPACE_RE = /\s+/g;
const NOT_HEX_OR_SPACE_RE = /[^0-9a-fA-F\s]/;

/**
 * Turns a hex text stream (any whitespace between digits, even inside a byte) into bytes, chunk by
 * chunk, carrying an odd digit over to the next chunk. Any other character ends the input with an
 * error naming its position, because guessing would corrupt the frames after it. The bytes before
 * that character are still returned, so the frames they hold are not lost; the error is raised by
 * the next `push` or by `end`.
 */
export class HexStreamDecoder {
  private pendingDigit = '';
  /** Characters consumed so far, for error positions. */
  private position = 0;
  private failure: UsageError | undefined;

  push(text: string): Buffer {
    if (this.failure) throw this.failure;
    let valid = text;
    const bad = text.search(NOT_HEX_OR_SPACE_RE);
    if (bad >= 0) {
      this.failure = new UsageError(
        `input is not hex: ${JSON.stringify(text[bad])} at character ${this.position + bad + 1}`,
      );
      valid = text.slice(0, bad);
    }
    this.position += text.length;
    const digits = this.pendingDigit + valid.replace(WHITESPACE_RE, '');
    const usable = digits.length - (digits.length % 2);
    this.pendingDigit = digits.slice(usable);
    return Buffer.from(digits.slice(0, usable), 'hex');
  }

  end(): void {
    if (this.failure) throw this.failure;
    if (this.pendingDigit !== '')
      throw new UsageError('input ends with half a byte (odd number of hex digits)');
  }
}
