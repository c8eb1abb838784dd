import type { DecodeError } from './types';

/** Data link layer header of a wireless M-Bus frame (EN 13757-4): L C M(2) A(6 = ID(4) version type). */
export interface DllHeader {
  length: number;
  cField: number;
  manufacturerCode: number;
  manufacturer: string;
  /** ID as printed: the four ID bytes reversed, lower-case hex (non-BCD nibbles stay hex). */
  id: string;
  version: number;
  deviceType: number;
}

export const DLL_HEADER_LENGTH = 10;

const SND_NR = 0x44;
const SND_IR = 0x46;

/** Three-letter manufacturer flag from the 16-bit code; bit 15 is ignored as some meters set it. */
export function manufacturerFromCode(code: number): string {
  return String.fromCharCode(((code >> 10) & 31) + 64, ((code >> 5) & 31) + 64, (code & 31) + 64);
}

export function manufacturerToCode(flag: string): number {
  if (!/^[A-Z@]{3}$/.test(flag))
    throw new RangeError(`manufacturer must be three letters A-Z, got "${flag}"`);
  return ((flag.charCodeAt(0) - 64) << 10) | ((flag.charCodeAt(1) - 64) << 5) | (flag.charCodeAt(2) - 64);
}

/** 4 ID bytes as on the wire (LSB first) → "76348799". */
export function idFromWire(bytes: Buffer, offset: number): string {
  return (
    hexByte(bytes[offset + 3]) +
    hexByte(bytes[offset + 2]) +
    hexByte(bytes[offset + 1]) +
    hexByte(bytes[offset])
  );
}

/** "76348799" → 4 bytes LSB first. */
export function idToWire(id: string): Buffer {
  if (!/^[0-9a-fA-F]{8}$/.test(id)) throw new RangeError(`meter id must be 8 hex digits, got "${id}"`);
  return Buffer.from(id, 'hex').reverse();
}

const HEX_BYTES = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
function hexByte(b: number): string {
  return HEX_BYTES[b];
}

export function isWmbusCField(c: number): boolean {
  return c === SND_NR || c === SND_IR;
}

/**
 * Finds the start of a wM-Bus frame: position 0 when its C-field is SND_NR/SND_IR; otherwise, as
 * wmbusmeters does for receivers that prepend bytes, the first 0x44 whose preceding byte is an L-field
 * ending exactly at the end of the buffer. Undefined when there is none.
 */
export function findFrameStart(bytes: Buffer): number | undefined {
  if (isWmbusCField(bytes[1])) return 0;
  for (let i = 2; i < bytes.length; i++) {
    if (bytes[i] === SND_NR && bytes[i - 1] === bytes.length - i) return i - 1;
  }
  return undefined;
}

export type DllResult = { ok: true; dll: DllHeader } | { ok: false; error: DecodeError };

export function parseDll(bytes: Buffer): DllResult {
  if (bytes.length < DLL_HEADER_LENGTH + 1) {
    return {
      ok: false,
      error: { code: 'TOO_SHORT', message: `telegram has ${bytes.length} bytes; DLL header and CI need 11` },
    };
  }
  const cField = bytes[1];
  if (!isWmbusCField(cField)) {
    return {
      ok: false,
      error: {
        code: 'BAD_C_FIELD',
        message: `C-field 0x${hexByte(cField)} is not SND_NR (0x44) or SND_IR (0x46)`,
        offset: 1,
      },
    };
  }
  const manufacturerCode = bytes[2] | (bytes[3] << 8);
  return {
    ok: true,
    dll: {
      length: bytes[0],
      cField,
      manufacturerCode,
      manufacturer: manufacturerFromCode(manufacturerCode),
      id: idFromWire(bytes, 4),
      version: bytes[8],
      deviceType: bytes[9],
    },
  };
}
