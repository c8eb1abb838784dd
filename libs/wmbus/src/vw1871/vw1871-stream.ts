import { crc16En13757 } from '../crc';

/**
 * Byte-stream parser for the Kamstrup VW1871 / VW1811 Bluetooth walk-by reader.
 *
 * The reader forwards every wM-Bus telegram it hears inside its own frame and sends battery reports
 * on the same stream; BLE notifications cut the stream at arbitrary points (244 bytes), so frames
 * are reassembled here across `push` calls. Telegram frame (total L + 22 bytes):
 *
 *   FB FB FB F0 | 4 header bytes | reader clock u32 LE | 61 | signal | 01 |
 *   wM-Bus telegram, frame format B with its CRCs (L + 1 bytes) | reader CRC (BE) | FE FE 0E 0F
 *
 * The reader CRC is CRC-16/EN 13757 over everything from the start marker through the telegram's
 * last CRC byte. A frame is accepted only when the reader CRC and every format-B CRC of the telegram
 * verify; the marker merely nominates candidates. On any failure the parser advances one byte, so a
 * corrupt or truncated frame costs only its own bytes and the next good frame is still found.
 *
 * Battery report: FB FC FC F0 | millivolts u16 LE | FE FE 0E 0F (no CRC, so the trailer is checked).
 * The reader also prints an ASCII line ("\r\nBattery Volt = 3858 mV\r\n") before it; that line, like
 * any other bytes outside a frame, is reported as skipped.
 */

export type Vw1871SkipReason =
  /** Printable ASCII (and CR/LF/TAB) only, e.g. the reader's battery text line. */
  | 'text'
  /** Bytes that start no frame. */
  | 'garbage'
  /** Began with a frame marker, but the length, a CRC or the trailer did not check out. */
  | 'bad-frame'
  /** The stream ended inside a frame. */
  | 'truncated';

export type Vw1871Item =
  | {
      kind: 'telegram';
      /** The wM-Bus telegram exactly as received: frame format B including its data-link CRC(s). */
      telegram: Buffer;
      /** The same telegram with its CRCs removed and L rewritten (the form gateways deliver). */
      stripped: Buffer;
      /** Raw signal byte as sent by the reader. */
      signal: number;
      /** The signal byte read as a signed 8-bit dBm value (0xA0..0xBF → -96..-65 dBm). */
      rssiDbm: number;
      /** Reader clock in seconds; the reader's clock is never set, so this is metadata only. */
      readerClock: number;
      /** Offset of the frame's first byte in the whole stream. */
      offset: number;
    }
  | { kind: 'battery'; millivolts: number; offset: number }
  | { kind: 'skipped'; bytes: number; reason: Vw1871SkipReason; offset: number };

const TELEGRAM_MARKER = [0xfb, 0xfb, 0xfb, 0xf0];
const BATTERY_MARKER = [0xfb, 0xfc, 0xfc, 0xf0];
const TRAILER = [0xfe, 0xfe, 0x0e, 0x0f];
const MARKER_LENGTH = 4;

/** Offset of the telegram's L-field inside a reader frame: marker 4 + header 4 + clock 4 + 61 + signal + 01. */
const L_OFFSET = 15;
const CLOCK_OFFSET = 8;
const SIGNAL_OFFSET = 13;
/** Everything in a reader frame besides the L + 1 telegram bytes. */
const FRAME_OVERHEAD = 21;
const BATTERY_FRAME_LENGTH = 10;
/** Smallest format-B telegram: the 10-byte DLL header and its CRC. */
const MIN_TELEGRAM_LENGTH = 12;
/** Longest frame (L = 255); the parser never holds more than this plus one chunk. */
export const VW1871_MAX_FRAME_LENGTH = 255 + 1 + FRAME_OVERHEAD;

/** Format B: the first CRC covers bytes 0..125; a telegram longer than 128 bytes has a second CRC at its end. */
const FORMAT_B_FIRST_SPAN = 126;
const FORMAT_B_SPLIT = 128;

function crcBigEndianAt(bytes: Buffer, pos: number): number {
  return (bytes[pos] << 8) | bytes[pos + 1];
}

/** True when `telegram` (format B, CRCs in place, L = length - 1) carries valid CRCs. */
export function formatBCrcsValid(telegram: Buffer): boolean {
  const length = telegram.length;
  if (length < MIN_TELEGRAM_LENGTH || telegram[0] + 1 !== length) return false;
  if (length <= FORMAT_B_SPLIT) {
    return crc16En13757(telegram, 0, length - 2) === crcBigEndianAt(telegram, length - 2);
  }
  // A third block needs at least one data byte besides its CRC.
  if (length < FORMAT_B_SPLIT + 3) return false;
  return (
    crc16En13757(telegram, 0, FORMAT_B_FIRST_SPAN) === crcBigEndianAt(telegram, FORMAT_B_FIRST_SPAN) &&
    crc16En13757(telegram, FORMAT_B_SPLIT, length - 2) === crcBigEndianAt(telegram, length - 2)
  );
}

/** Removes the format-B CRCs of a telegram already checked by `formatBCrcsValid`; L becomes length - 1. */
export function stripFormatB(telegram: Buffer): Buffer {
  const length = telegram.length;
  const stripped =
    length <= FORMAT_B_SPLIT
      ? Buffer.from(telegram.subarray(0, length - 2))
      : Buffer.concat([
          telegram.subarray(0, FORMAT_B_FIRST_SPAN),
          telegram.subarray(FORMAT_B_SPLIT, length - 2),
        ]);
  stripped[0] = stripped.length - 1;
  return stripped;
}

function matchesAt(bytes: Buffer, pos: number, pattern: readonly number[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    if (bytes[pos + i] !== pattern[i]) return false;
  }
  return true;
}

/** True when the bytes present from `pos` on could still grow into `pattern` (a marker cut by a chunk). */
function prefixOfAt(bytes: Buffer, pos: number, pattern: readonly number[]): boolean {
  const available = Math.min(bytes.length - pos, pattern.length);
  for (let i = 0; i < available; i++) {
    if (bytes[pos + i] !== pattern[i]) return false;
  }
  return true;
}

function isTextByte(byte: number): boolean {
  return (byte >= 0x20 && byte <= 0x7e) || byte === 0x0d || byte === 0x0a || byte === 0x09;
}

type FrameAttempt =
  | { outcome: 'item'; item: Vw1871Item; length: number }
  /** More bytes are needed before this position can be decided. */
  | { outcome: 'need-more' }
  | { outcome: 'no-frame'; reason: 'garbage' | 'bad-frame' };

/** A run of skipped bytes, reported once it ends so that the output does not depend on chunking. */
interface SkipRun {
  offset: number;
  bytes: number;
  reason: Vw1871SkipReason;
  allText: boolean;
}

export class Vw1871StreamParser {
  /** Undecided bytes, starting at stream offset `bufferOffset`. */
  private buffer: Buffer = Buffer.alloc(0);
  private bufferOffset = 0;
  private skipRun: SkipRun | undefined;
  private ended = false;

  /** Bytes held back because they may be the start of a frame; bounded by `VW1871_MAX_FRAME_LENGTH` between pushes. */
  get bufferedBytes(): number {
    return this.buffer.length;
  }

  /** Feeds the next chunk; returns the items completed by it, in stream order. */
  push(chunk: Buffer): Vw1871Item[] {
    if (this.ended) throw new Error('VW1871 stream parser: push() after end()');
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    return this.drain(false);
  }

  /** Signals the end of the stream; returns what the remaining bytes amount to. */
  end(): Vw1871Item[] {
    if (this.ended) return [];
    this.ended = true;
    return this.drain(true);
  }

  private drain(final: boolean): Vw1871Item[] {
    const items: Vw1871Item[] = [];
    const buffer = this.buffer;
    let pos = 0;
    while (pos < buffer.length) {
      const attempt = this.tryFrameAt(buffer, pos);
      if (attempt.outcome === 'need-more') {
        if (!final) break;
        // The stream ended inside a (possible) frame: what is left can never become one.
        this.skip(buffer, pos, buffer.length - pos, 'truncated', items);
        pos = buffer.length;
        break;
      }
      if (attempt.outcome === 'item') {
        this.flushSkipRun(items);
        items.push(attempt.item);
        pos += attempt.length;
        continue;
      }
      this.skip(buffer, pos, 1, attempt.reason, items);
      pos += 1;
    }
    if (final) this.flushSkipRun(items);
    this.bufferOffset += pos;
    this.buffer = pos >= buffer.length ? Buffer.alloc(0) : Buffer.from(buffer.subarray(pos));
    return items;
  }

  private tryFrameAt(buffer: Buffer, pos: number): FrameAttempt {
    const available = buffer.length - pos;
    if (available < MARKER_LENGTH) {
      return prefixOfAt(buffer, pos, TELEGRAM_MARKER) || prefixOfAt(buffer, pos, BATTERY_MARKER)
        ? { outcome: 'need-more' }
        : { outcome: 'no-frame', reason: 'garbage' };
    }
    if (matchesAt(buffer, pos, TELEGRAM_MARKER)) return this.tryTelegramFrame(buffer, pos);
    if (matchesAt(buffer, pos, BATTERY_MARKER)) return this.tryBatteryFrame(buffer, pos);
    return { outcome: 'no-frame', reason: 'garbage' };
  }

  private tryTelegramFrame(buffer: Buffer, pos: number): FrameAttempt {
    const available = buffer.length - pos;
    if (available <= L_OFFSET) return { outcome: 'need-more' };
    const lField = buffer[pos + L_OFFSET];
    const telegramLength = lField + 1;
    if (telegramLength < MIN_TELEGRAM_LENGTH) return { outcome: 'no-frame', reason: 'bad-frame' };
    const frameLength = telegramLength + FRAME_OVERHEAD;
    if (available < frameLength) return { outcome: 'need-more' };

    const telegramStart = pos + L_OFFSET;
    const telegramEnd = telegramStart + telegramLength;
    const readerCrcOk = crc16En13757(buffer, pos, telegramEnd) === crcBigEndianAt(buffer, telegramEnd);
    const telegram = buffer.subarray(telegramStart, telegramEnd);
    if (!readerCrcOk || !formatBCrcsValid(telegram)) return { outcome: 'no-frame', reason: 'bad-frame' };

    const signal = buffer[pos + SIGNAL_OFFSET];
    const copy = Buffer.from(telegram);
    return {
      outcome: 'item',
      length: frameLength,
      item: {
        kind: 'telegram',
        telegram: copy,
        stripped: stripFormatB(copy),
        signal,
        rssiDbm: signal > 0x7f ? signal - 0x100 : signal,
        readerClock: buffer.readUInt32LE(pos + CLOCK_OFFSET),
        offset: this.bufferOffset + pos,
      },
    };
  }

  private tryBatteryFrame(buffer: Buffer, pos: number): FrameAttempt {
    if (buffer.length - pos < BATTERY_FRAME_LENGTH) return { outcome: 'need-more' };
    if (!matchesAt(buffer, pos + 6, TRAILER)) return { outcome: 'no-frame', reason: 'bad-frame' };
    return {
      outcome: 'item',
      length: BATTERY_FRAME_LENGTH,
      item: { kind: 'battery', millivolts: buffer.readUInt16LE(pos + 4), offset: this.bufferOffset + pos },
    };
  }

  /**
   * Adds skipped bytes to the current run. A failed frame candidate starts a new run so that its
   * reason is reported on its own; plain garbage and text extend whatever run is open.
   */
  private skip(
    buffer: Buffer,
    pos: number,
    count: number,
    reason: Vw1871SkipReason,
    items: Vw1871Item[],
  ): void {
    let allText = true;
    for (let i = pos; i < pos + count; i++) {
      if (!isTextByte(buffer[i])) {
        allText = false;
        break;
      }
    }
    const run = this.skipRun;
    if (run && (reason === 'garbage' || reason === run.reason)) {
      run.bytes += count;
      run.allText &&= allText;
      return;
    }
    this.flushSkipRun(items);
    this.skipRun = { offset: this.bufferOffset + pos, bytes: count, reason, allText };
  }

  private flushSkipRun(items: Vw1871Item[]): void {
    const run = this.skipRun;
    if (!run) return;
    this.skipRun = undefined;
    const reason = run.reason === 'garbage' && run.allText ? 'text' : run.reason;
    items.push({ kind: 'skipped', bytes: run.bytes, reason, offset: run.offset });
  }
}
