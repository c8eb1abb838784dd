/**
 * Data-field decoders (EN 13757-3 annex A, spec §5.4/§5.6). All take the buffer and the start offset of
 * the value; callers have already checked that `length` bytes are available.
 */

const TWO_POW_32 = 4294967296;
const TWO_POW_40 = 1099511627776;

/** Little-endian two's-complement integer of 1–8 bytes. 48-bit is exact; 64-bit is exact up to 2^53. */
export function readSignedInt(buf: Buffer, offset: number, length: number): number {
  switch (length) {
    case 1:
      return buf.readInt8(offset);
    case 2:
      return buf.readInt16LE(offset);
    case 3:
      return buf.readIntLE(offset, 3);
    case 4:
      return buf.readInt32LE(offset);
    case 6:
      return buf.readIntLE(offset, 6);
    case 8:
      return buf.readInt32LE(offset + 4) * TWO_POW_32 + buf.readUInt32LE(offset);
    default:
      return readUnsignedInt(buf, offset, length);
  }
}

/** Little-endian unsigned integer of up to 8 bytes (LVAR binary values, manufacturer flags). */
export function readUnsignedInt(buf: Buffer, offset: number, length: number): number {
  if (length <= 6) return length === 0 ? 0 : buf.readUIntLE(offset, length);
  const low = buf.readUIntLE(offset, 5);
  return buf.readUIntLE(offset + 5, length - 5) * TWO_POW_40 + low;
}

/**
 * Packed BCD, least-significant byte first. A high nibble 0xF in the most significant byte marks a
 * negative value; all-0xF means "no value". Any other non-decimal nibble makes the value invalid.
 * Returns null for both.
 */
export function readBcd(buf: Buffer, offset: number, length: number): number | null {
  let allF = true;
  for (let i = 0; i < length; i++) {
    if (buf[offset + i] !== 0xff) {
      allF = false;
      break;
    }
  }
  if (allF) return null;
  let value = 0;
  let negative = false;
  for (let i = length - 1; i >= 0; i--) {
    const byte = buf[offset + i];
    let high = byte >> 4;
    const low = byte & 0x0f;
    if (i === length - 1 && high === 0x0f) {
      negative = true;
      high = 0;
    }
    if (high > 9 || low > 9) return null;
    value = value * 100 + high * 10 + low;
  }
  return negative ? -value : value;
}

/** BCD digits as a string, most significant first (identification numbers keep leading zeros). */
export function readBcdDigits(buf: Buffer, offset: number, length: number): string | null {
  let digits = '';
  for (let i = length - 1; i >= 0; i--) {
    const byte = buf[offset + i];
    const high = byte >> 4;
    const low = byte & 0x0f;
    if (high > 9 || low > 9) return null;
    digits += String.fromCharCode(0x30 + high, 0x30 + low);
  }
  return digits;
}

export function readReal32(buf: Buffer, offset: number): number | null {
  const value = buf.readFloatLE(offset);
  return Number.isFinite(value) ? value : null;
}

const TWO_DIGITS: readonly string[] = Array.from({ length: 128 }, (_, i) => (i < 10 ? `0${i}` : `${i}`));

/** Type G date from two bytes; wmbusmeters' year rule (always 2000 + 7-bit year). Month > 12 → null. */
export function readDateG(buf: Buffer, offset: number): string | null {
  const b0 = buf[offset];
  const b1 = buf[offset + 1];
  const month = b1 & 0x0f;
  if (month > 12) return null;
  const year = 2000 + ((b0 & 0xe0) >> 5) + ((b1 & 0xf0) >> 1);
  return `${year}-${TWO_DIGITS[month]}-${TWO_DIGITS[b0 & 0x1f]}`;
}

/** Type F date+time (4 bytes) → "YYYY-MM-DD HH:MM". Flag bits (invalid, summer time) are ignored. */
export function readDateTimeF(buf: Buffer, offset: number): string | null {
  const date = readDateG(buf, offset + 2);
  if (date === null) return null;
  return `${date} ${TWO_DIGITS[buf[offset + 1] & 0x1f]}:${TWO_DIGITS[buf[offset] & 0x3f]}`;
}

/** Type I date+time (6 bytes) → "YYYY-MM-DD HH:MM:SS". */
export function readDateTimeI(buf: Buffer, offset: number): string | null {
  const date = readDateG(buf, offset + 3);
  if (date === null) return null;
  const hour = TWO_DIGITS[buf[offset + 2] & 0x1f];
  return `${date} ${hour}:${TWO_DIGITS[buf[offset + 1] & 0x3f]}:${TWO_DIGITS[buf[offset] & 0x3f]}`;
}

/** LVAR ASCII text: EN 13757-3 transmits the last character first. */
export function readReversedAscii(buf: Buffer, offset: number, length: number): string {
  let text = '';
  for (let i = offset + length - 1; i >= offset; i--) text += String.fromCharCode(buf[i]);
  return text;
}

/** Scales an integer by 10^exponent with a single correctly rounded operation (6408 × 10^-3 → 6.408). */
export function scaleDecimal(value: number, exponent: number): number {
  if (exponent === 0) return value;
  return exponent > 0 ? value * 10 ** exponent : value / 10 ** -exponent;
}

/** Rounds to 6 decimals as wmbusmeters prints, for values whose source is binary (real32). */
export function roundTo6(value: number): number {
  return Math.abs(value) < 1e9 ? Math.round(value * 1e6) / 1e6 : value;
}
