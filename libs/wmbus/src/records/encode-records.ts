import { DIF_FILLER } from './dif';
import { isHeaderError, parseRecordHeader } from './vif';
import type { RecordHeader } from './vif';

/**
 * One record to encode. `vifes` holds every header byte after the VIF as on the wire (for a plain-text
 * VIF that includes the unit's length byte and characters). Give either `value` (number in the unit
 * parseRecords reports, date string "YYYY-MM-DD[ HH:MM[:SS]]", text for LVAR, hex for a 0x0F/0x1F tail)
 * or `raw`, the exact data bytes (including an LVAR length byte).
 */
export interface RecordSpec {
  dif: number;
  difes?: number[];
  vif: number;
  vifes?: number[];
  value?: number | string;
  raw?: Buffer;
}

const LVAR_POSITIVE_BCD = 0xc0;
const LVAR_NEGATIVE_BCD = 0xd0;
const LVAR_TEXT_MAX = 0xbf;
const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2})(?::(\d{2}))?)?$/;

/**
 * Encodes records into a full APL: the inverse of parseRecords for integer, BCD, real32, LVAR (text and
 * BCD), date G/F/I and manufacturer-tail records. Throws on a spec that cannot be encoded (it is a
 * builder for tests, simulators and fixtures, not a hot-path function).
 */
export function encodeRecords(records: RecordSpec[]): Buffer {
  const parts: Buffer[] = [];
  for (const spec of records) parts.push(encodeRecord(spec));
  return Buffer.concat(parts);
}

function encodeRecord(spec: RecordSpec): Buffer {
  if (spec.dif === DIF_FILLER) return Buffer.from([DIF_FILLER]);
  if ((spec.dif & 0x0f) === 0x0f) {
    const tail = spec.raw ?? Buffer.from(typeof spec.value === 'string' ? spec.value : '', 'hex');
    return Buffer.concat([Buffer.from([spec.dif]), tail]);
  }
  const headerBytes = Buffer.from([spec.dif, ...(spec.difes ?? []), spec.vif, ...(spec.vifes ?? [])]);
  const header = parseRecordHeader(headerBytes, 0);
  if (isHeaderError(header)) throw new Error(`cannot encode record: ${header.message}`);
  if (header.end !== headerBytes.length) {
    throw new Error(
      `cannot encode record: header bytes ${headerBytes.toString('hex')} continue past the last VIFE`,
    );
  }
  const data = spec.raw ?? encodeValue(spec.value, header);
  return Buffer.concat([headerBytes, data]);
}

function encodeValue(value: number | string | undefined, header: RecordHeader): Buffer {
  const { coding, length } = header.dataCoding;
  if (coding === 'none' || coding === 'selection') return Buffer.alloc(0);
  if (value === undefined) throw new Error('cannot encode record: a value or raw bytes are required');
  if (header.vif.kind === 'time_point') return encodeTimePoint(String(value), length);
  if (coding === 'lvar') {
    if (typeof value === 'string' && header.vif.kind !== 'digits') return encodeLvarText(value);
    return encodeLvarBcd(typeof value === 'string' ? Number(value) : unscale(value, header));
  }
  if (coding === 'bcd') {
    const integer = typeof value === 'string' ? Number(value) : unscale(value, header);
    return encodeBcd(integer, length);
  }
  if (typeof value !== 'number')
    throw new Error(`cannot encode record: numeric value expected, got "${value}"`);
  if (coding === 'real') {
    const out = Buffer.alloc(4);
    out.writeFloatLE(unscaleExact(value, header));
    return out;
  }
  return encodeInt(unscale(value, header), length);
}

/** Inverse of the parser's scaling (VIF exponent, combinable corrections, non-decimal factors). */
function unscaleExact(value: number, header: RecordHeader): number {
  if (header.vif.kind !== 'number') return value;
  const exponent = header.vif.exponent + header.exponentCorrection;
  const numerator = value * header.vif.divisor;
  const scaled = exponent <= 0 ? numerator * 10 ** -exponent : numerator / 10 ** exponent;
  return scaled / header.vif.multiplier;
}

function unscale(value: number, header: RecordHeader): number {
  return Math.round(unscaleExact(value, header));
}

function encodeInt(value: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  if (length === 8) out.writeBigInt64LE(BigInt(value));
  else out.writeIntLE(value, 0, length);
  return out;
}

/** Packed BCD, LSB first; a negative value puts 0xF in the top nibble (one digit fewer available). */
function encodeBcd(value: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let rest = Math.abs(value);
  for (let i = 0; i < length; i++) {
    const low = rest % 10;
    rest = Math.floor(rest / 10);
    const high = rest % 10;
    rest = Math.floor(rest / 10);
    out[i] = (high << 4) | low;
  }
  if (value < 0) {
    if (out[length - 1] >> 4 !== 0) throw new Error(`cannot encode record: ${value} needs more BCD digits`);
    out[length - 1] |= 0xf0;
  }
  if (rest !== 0) throw new Error(`cannot encode record: ${value} does not fit ${length * 2} BCD digits`);
  return out;
}

function encodeLvarBcd(value: number): Buffer {
  const digits = String(Math.abs(value)).length;
  const length = Math.ceil(digits / 2);
  const bcd = encodeBcd(Math.abs(value), length);
  return Buffer.concat([Buffer.from([(value < 0 ? LVAR_NEGATIVE_BCD : LVAR_POSITIVE_BCD) + length]), bcd]);
}

function encodeLvarText(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1').reverse();
  if (bytes.length > LVAR_TEXT_MAX)
    throw new Error(`cannot encode record: text longer than ${LVAR_TEXT_MAX} bytes`);
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

function encodeTimePoint(text: string, length: number): Buffer {
  const match = DATE_PATTERN.exec(text);
  if (match === null) throw new Error(`cannot encode record: "${text}" is not YYYY-MM-DD[ HH:MM[:SS]]`);
  const year = Number(match[1]) - 2000;
  if (year < 0 || year > 127) throw new Error(`cannot encode record: year of "${text}" outside 2000–2127`);
  const date = [Number(match[3]) | ((year & 0x07) << 5), Number(match[2]) | ((year >> 3) << 4)];
  const hour = Number(match[4] ?? 0);
  const minute = Number(match[5] ?? 0);
  const second = Number(match[6] ?? 0);
  switch (length) {
    case 2:
      return Buffer.from(date);
    case 4:
      return Buffer.from([minute, hour, ...date]);
    case 6:
      // Type I's sixth byte (day of week, week number) is left 0: "not specified".
      return Buffer.from([second, minute, hour, ...date, 0]);
    default:
      throw new Error(`cannot encode record: a date needs a 2, 4 or 6 byte data field, not ${length}`);
  }
}
