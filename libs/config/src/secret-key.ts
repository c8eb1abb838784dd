import { inspect } from 'node:util';

const REDACTED = '[redacted secret key]';

/**
 * A secret key that cannot leak through logging: JSON.stringify, String(), template literals and
 * util.inspect (console.log, pino) all print a placeholder. Callers get the bytes only by asking.
 */
export class SecretKey {
  readonly #bytes: Buffer;

  constructor(bytes: Buffer) {
    this.#bytes = Buffer.from(bytes);
  }

  get length(): number {
    return this.#bytes.length;
  }

  /** A copy of the key bytes; overwrite it (`fill(0)`) when done if it is kept around. */
  bytes(): Buffer {
    return Buffer.from(this.#bytes);
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
