import { crc16En13757 } from './crc';
import type { DecodeError } from './types';

/**
 * Physical framing of a wireless M-Bus telegram (EN 13757-4 frame formats A and B).
 *
 * Input may come with the data-link CRCs still in place (CUL-style receivers, raw captures) or
 * already stripped (most dongles). Following wmbusmeters we try format A, then format B, then take
 * the bytes as already stripped. The one place where we are stricter is a frame that *clearly*
 * carries CRCs but has a wrong one; see `looksLikeCorruptFrame`.
 */

export type StrippedFormat = 'A' | 'B' | 'none';

export interface StrippedFrame {
  format: StrippedFormat;
  /** The telegram without DLL CRCs; L is rewritten to `length - 1` when CRCs were removed. */
  bytes: Buffer;
}

export type FrameResult = { ok: true; frame: StrippedFrame } | { ok: false; error: DecodeError };

const FORMAT_A_FIRST_BLOCK = 10;
const FORMAT_A_BLOCK = 16;
/** Format B: the first CRC covers bytes 0..125; a frame longer than 128 bytes has a second CRC at its end. */
const FORMAT_B_FIRST_SPAN = 126;
const FORMAT_B_SPLIT = 128;

function crcAt(buf: Buffer, pos: number): number {
  // DLL block CRCs are sent high byte first.
  return (buf[pos] << 8) | buf[pos + 1];
}

interface CrcCheck {
  /** Number of CRC fields the layout has and how many of them verified. */
  total: number;
  good: number;
  stripped?: Buffer;
}

/** Number of format A blocks (each followed by a CRC) for a given L-field. */
function formatABlockCount(lField: number): number {
  const dataBytes = lField + 1;
  if (dataBytes <= FORMAT_A_FIRST_BLOCK) return 1;
  return 1 + Math.ceil((dataBytes - FORMAT_A_FIRST_BLOCK) / FORMAT_A_BLOCK);
}

function checkFormatA(raw: Buffer): CrcCheck | undefined {
  const lField = raw[0];
  const blocks = formatABlockCount(lField);
  if (raw.length !== lField + 1 + 2 * blocks) return undefined;
  const out = Buffer.allocUnsafe(lField + 1);
  let readPos = 0;
  let writePos = 0;
  let good = 0;
  for (let block = 0; block < blocks; block++) {
    const size =
      block === 0
        ? Math.min(FORMAT_A_FIRST_BLOCK, lField + 1)
        : Math.min(FORMAT_A_BLOCK, lField + 1 - writePos);
    if (crc16En13757(raw, readPos, readPos + size) === crcAt(raw, readPos + size)) good++;
    raw.copy(out, writePos, readPos, readPos + size);
    writePos += size;
    readPos += size + 2;
  }
  return { total: blocks, good, stripped: good === blocks ? out : undefined };
}

function checkFormatB(raw: Buffer): CrcCheck | undefined {
  const length = raw.length;
  if (length < 12 || raw[0] + 1 !== length) return undefined;
  if (length <= FORMAT_B_SPLIT) {
    const ok = crc16En13757(raw, 0, length - 2) === crcAt(raw, length - 2);
    if (!ok) return { total: 1, good: 0 };
    const out = Buffer.from(raw.subarray(0, length - 2));
    out[0] = out.length - 1;
    return { total: 1, good: 1, stripped: out };
  }
  if (length < FORMAT_B_SPLIT + 3) return undefined;
  const firstOk = crc16En13757(raw, 0, FORMAT_B_FIRST_SPAN) === crcAt(raw, FORMAT_B_FIRST_SPAN);
  const secondOk = crc16En13757(raw, FORMAT_B_SPLIT, length - 2) === crcAt(raw, length - 2);
  const good = (firstOk ? 1 : 0) + (secondOk ? 1 : 0);
  if (good !== 2) return { total: 2, good };
  const out = Buffer.concat([raw.subarray(0, FORMAT_B_FIRST_SPAN), raw.subarray(FORMAT_B_SPLIT, length - 2)]);
  out[0] = out.length - 1;
  return { total: 2, good, stripped: out };
}

/**
 * Rule for BAD_CRC (instead of silently falling back to "already stripped"): the frame's length is
 * exactly what format A or B predicts from its L-field, it has at least two CRC fields, and at least
 * one of them verifies but not all. A stripped telegram matches a CRC only by a 1-in-65536 chance per
 * field, so a verifying CRC means the CRCs really are there; the failing ones mean corruption. With a
 * single CRC field (short format B) there is no such evidence and the bytes are taken as stripped,
 * exactly as wmbusmeters does; if they were a corrupt frame, the layers above reject them.
 */
function looksLikeCorruptFrame(check: CrcCheck | undefined): boolean {
  return check !== undefined && check.total >= 2 && check.good > 0 && check.good < check.total;
}

export function stripFrame(raw: Buffer): FrameResult {
  if (raw.length < 11) {
    return {
      ok: false,
      error: { code: 'TOO_SHORT', message: `telegram has ${raw.length} bytes; a wM-Bus DLL header needs 11` },
    };
  }
  const a = checkFormatA(raw);
  if (a?.stripped) return { ok: true, frame: { format: 'A', bytes: a.stripped } };
  const b = checkFormatB(raw);
  if (b?.stripped) return { ok: true, frame: { format: 'B', bytes: b.stripped } };
  if (looksLikeCorruptFrame(a) || looksLikeCorruptFrame(b)) {
    const which = looksLikeCorruptFrame(a) ? a! : b!;
    const format = which === a ? 'A' : 'B';
    return {
      ok: false,
      error: {
        code: 'BAD_CRC',
        message: `frame format ${format}: ${which.total - which.good} of ${which.total} data-link CRCs do not match`,
      },
    };
  }
  return { ok: true, frame: { format: 'none', bytes: raw } };
}

/** Inserts DLL CRCs (used by the encoder and tests); `bytes` is a stripped frame with L = length - 1. */
export function addFrameCrcs(bytes: Buffer, format: 'A' | 'B'): Buffer {
  if (format === 'A') {
    const parts: Buffer[] = [];
    let pos = 0;
    while (pos < bytes.length) {
      const size = pos === 0 ? FORMAT_A_FIRST_BLOCK : Math.min(FORMAT_A_BLOCK, bytes.length - pos);
      const block = bytes.subarray(pos, pos + size);
      const crc = crc16En13757(block);
      parts.push(block, Buffer.from([crc >> 8, crc & 0xff]));
      pos += size;
    }
    return Buffer.concat(parts);
  }
  const withCrcLength = bytes.length + (bytes.length + 2 > FORMAT_B_SPLIT ? 4 : 2);
  const out = Buffer.alloc(withCrcLength);
  bytes.copy(out);
  out[0] = withCrcLength - 1;
  if (withCrcLength <= FORMAT_B_SPLIT) {
    const crc = crc16En13757(out, 0, withCrcLength - 2);
    out.writeUInt16BE(crc, withCrcLength - 2);
    return out;
  }
  const framed = Buffer.alloc(withCrcLength);
  out.copy(framed, 0, 0, FORMAT_B_FIRST_SPAN);
  framed.writeUInt16BE(crc16En13757(framed, 0, FORMAT_B_FIRST_SPAN), FORMAT_B_FIRST_SPAN);
  bytes.copy(framed, FORMAT_B_SPLIT, FORMAT_B_FIRST_SPAN);
  framed.writeUInt16BE(crc16En13757(framed, FORMAT_B_SPLIT, withCrcLength - 2), withCrcLength - 2);
  return framed;
}
