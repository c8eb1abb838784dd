import type { DecodeError } from './types';

/**
 * Wired M-Bus long frame (EN 13757-2): 68 L L 68 C A CI … CS 16. L counts C through the last data
 * byte; CS is the arithmetic sum of those bytes modulo 256.
 */

export const WIRED_START = 0x68;
const WIRED_STOP = 0x16;
/** 68 L L 68 before C, and CS 16 after the data. */
const WIRED_OVERHEAD = 6;

export interface WiredFrame {
  length: number;
  cField: number;
  address: number;
  ci: number;
  ciOffset: number;
  /** Offset of the checksum byte: the user data ends here. */
  end: number;
}

/** Cheap test used to route input: a wM-Bus frame cannot repeat its L-field with a second 0x68. */
export function looksLikeWiredFrame(bytes: Buffer): boolean {
  return bytes.length >= 4 && bytes[0] === WIRED_START && bytes[3] === WIRED_START && bytes[1] === bytes[2];
}

export function parseWiredFrame(
  bytes: Buffer,
): { ok: true; frame: WiredFrame } | { ok: false; error: DecodeError } {
  const length = bytes[1];
  if (length < 3) {
    return {
      ok: false,
      error: { code: 'BAD_LENGTH', message: `wired long frame L=${length} is below 3 (C, A, CI)`, offset: 1 },
    };
  }
  const expected = length + WIRED_OVERHEAD;
  if (bytes.length < expected) {
    return {
      ok: false,
      error: {
        code: 'TRUNCATED',
        message: `wired long frame L=${length} needs ${expected} bytes, got ${bytes.length}`,
      },
    };
  }
  if (bytes.length > expected) {
    return {
      ok: false,
      error: {
        code: 'BAD_LENGTH',
        message: `wired long frame L=${length} needs ${expected} bytes, got ${bytes.length}`,
      },
    };
  }
  const end = 4 + length;
  if (bytes[end + 1] !== WIRED_STOP) {
    return {
      ok: false,
      error: { code: 'BAD_LENGTH', message: 'wired long frame does not end with 0x16', offset: end + 1 },
    };
  }
  let sum = 0;
  for (let i = 4; i < end; i++) sum += bytes[i];
  if ((sum & 0xff) !== bytes[end]) {
    return {
      ok: false,
      error: { code: 'BAD_CRC', message: 'wired long frame checksum does not match', offset: end },
    };
  }
  return { ok: true, frame: { length, cField: bytes[4], address: bytes[5], ci: bytes[6], ciOffset: 6, end } };
}
