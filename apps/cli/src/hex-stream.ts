import { UsageError } from './cli-io';

const WHITESPACE_RE = /\s+/g;
const HEX_ONLY_RE = /^[0-9a-fA-F]*$/;
const NOT_HEX_OR_SPACE_RE = /[^0-9a-fA-F\s]/;

/**
 * Turns a hex text stream (any whitespace between digits, even inside a byte) into bytes, chunk by
 * chunk, carrying an odd digit over to the next chunk. Any other character is an input error that
 * names its position, because guessing would corrupt the frames after it.
 */
export class HexStreamDecoder {
  private pendingDigit = '';
  /** Characters consumed so far, for error positions. */
  private position = 0;

  push(text: string): Buffer {
    const digits = this.pendingDigit + text.replace(WHITESPACE_RE, '');
    if (!HEX_ONLY_RE.test(digits)) {
      const index = text.search(NOT_HEX_OR_SPACE_RE);
      throw new UsageError(
        `input is not hex: ${JSON.stringify(text[index])} at character ${this.position + index + 1}`,
      );
    }
    this.position += text.length;
    const usable = digits.length - (digits.length % 2);
    this.pendingDigit = digits.slice(usable);
    return Buffer.from(digits.slice(0, usable), 'hex');
  }

  end(): void {
    if (this.pendingDigit !== '')
      throw new UsageError('input ends with half a byte (odd number of hex digits)');
  }
}
