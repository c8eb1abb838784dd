import { inspect } from 'node:util';

/**
 * A decrypted meter key. The bytes live in a private field, and every path by which an object usually
 * reaches a log (JSON.stringify, util.inspect/console.log, string interpolation) shows only the meter id and
 * the fingerprint.
 */
export class MeterKey {
  readonly #material: Buffer;

  constructor(
    readonly meterId: string,
    material: Buffer,
    readonly fingerprint: string,
    readonly setAt: Date,
  ) {
    this.#material = Buffer.from(material);
  }

  /** A copy of the 16 key bytes, for handing to the decoder; callers cannot alter the cached key. */
  material(): Buffer {
    return Buffer.from(this.#material);
  }

  /** Overwrites the cached bytes when the key is replaced or removed, so they do not linger in the heap. */
  wipe(): void {
    this.#material.fill(0);
  }

  toJSON(): { meterId: string; fingerprint: string } {
    return { meterId: this.meterId, fingerprint: this.fingerprint };
  }

  toString(): string {
    return `MeterKey(${this.meterId}, fingerprint ${this.fingerprint})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
