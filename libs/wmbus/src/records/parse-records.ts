import type { DataRecord, DecodeError } from '../types';
import { DIF_FILLER } from './dif';
import { MANUFACTURER_TAIL } from './vif-tables';
import { isHeaderError, parseRecordHeader } from './vif';
import type { RecordHeader } from './vif';
import {
  readBcd,
  readBcdDigits,
  readDateG,
  readDateTimeF,
  readDateTimeI,
  readReal32,
  readReversedAscii,
  readSignedInt,
  readUnsignedInt,
  roundTo6,
} from './values';

export interface ParseRecordsOptions {
  /** A compact frame's DIF/VIF byte string: headers come from here, data bytes from `apl`. */
  format?: Buffer;
}

export interface ParseRecordsResult {
  records: DataRecord[];
  /** Compact mode only: the equivalent full-frame APL (headers interleaved with data) for the CRC check. */
  rebuilt?: Buffer;
  error?: DecodeError;
}

/** LVAR length-byte sub-ranges (EN 13757-3 annex A, variable-length data). */
const LVAR_TEXT_LAST = 0xbf;
const LVAR_POSITIVE_BCD_FIRST = 0xc0;
const LVAR_POSITIVE_BCD_LAST = 0xc9;
const LVAR_NEGATIVE_BCD_FIRST = 0xd0;
const LVAR_NEGATIVE_BCD_LAST = 0xd9;
const LVAR_BINARY_FIRST = 0xe0;
const LVAR_BINARY_LAST = 0xef;
const LVAR_FLOAT_FIRST = 0xf0;
const LVAR_FLOAT_LAST = 0xfa;
/** Largest binary LVAR still returned as an exact number. */
const LVAR_BINARY_NUMERIC_MAX = 6;

/** Upper-case hex pairs: building the short key/header/raw strings from a table avoids a Buffer view per call. */
const HEX_PAIRS: readonly string[] = Array.from({ length: 256 }, (_, i) =>
  i.toString(16).toUpperCase().padStart(2, '0'),
);

function hexOf(buf: Buffer, start: number, end: number): string {
  let text = '';
  for (let i = start; i < end; i++) text += HEX_PAIRS[buf[i]];
  return text;
}

interface DecodedValue {
  value: number | string | null;
  unit: string;
}

/** Applies VIF scale and combinable corrections with one rounding step where the factors allow it. */
function scale(raw: number, header: RecordHeader): number {
  const vif = header.vif;
  const exponent = vif.exponent + header.exponentCorrection;
  const numerator = raw * vif.multiplier;
  if (exponent >= 0) {
    const scaled = numerator * 10 ** exponent;
    return vif.divisor === 1 ? scaled : scaled / vif.divisor;
  }
  return numerator / (10 ** -exponent * vif.divisor);
}

function numericUnit(header: RecordHeader): string {
  return header.plainTextUnit ?? header.vif.unit;
}

function decodeTimePoint(buf: Buffer, offset: number, length: number): DecodedValue {
  switch (length) {
    case 2:
      return { value: readDateG(buf, offset), unit: 'date' };
    case 4:
      return { value: readDateTimeF(buf, offset), unit: 'datetime' };
    case 6:
      return { value: readDateTimeI(buf, offset), unit: 'datetime' };
    default:
      return { value: null, unit: 'datetime' };
  }
}

/** Turns an integer-like raw value into the record value according to the VIF's kind. */
function fromInteger(raw: number | null, header: RecordHeader): DecodedValue {
  const kind = header.vif.kind;
  if (raw === null) return { value: null, unit: kind === 'digits' ? '' : numericUnit(header) };
  if (kind === 'number') return { value: scale(raw, header), unit: numericUnit(header) };
  if (kind === 'digits') return { value: String(raw), unit: '' };
  return { value: raw, unit: numericUnit(header) };
}

function decodeFixed(buf: Buffer, offset: number, length: number, header: RecordHeader): DecodedValue {
  const coding = header.dataCoding.coding;
  const kind = header.vif.kind;
  if (coding === 'none' || coding === 'selection') return { value: null, unit: numericUnit(header) };
  if (kind === 'time_point') {
    return coding === 'int' ? decodeTimePoint(buf, offset, length) : { value: null, unit: header.vif.unit };
  }
  if (coding === 'real') {
    const real = readReal32(buf, offset);
    if (real === null || kind !== 'number') return { value: real, unit: numericUnit(header) };
    return { value: roundTo6(scale(real, header)), unit: numericUnit(header) };
  }
  if (coding === 'bcd') {
    if (kind === 'digits') return { value: readBcdDigits(buf, offset, length), unit: '' };
    return fromInteger(readBcd(buf, offset, length), header);
  }
  return fromInteger(readSignedInt(buf, offset, length), header);
}

function decodeLvar(
  buf: Buffer,
  offset: number,
  lvar: number,
  length: number,
  header: RecordHeader,
): DecodedValue {
  if (lvar <= LVAR_TEXT_LAST) return { value: readReversedAscii(buf, offset, length), unit: '' };
  if (lvar <= LVAR_POSITIVE_BCD_LAST) {
    if (header.vif.kind === 'digits') return { value: readBcdDigits(buf, offset, length), unit: '' };
    return fromInteger(readBcd(buf, offset, length), header);
  }
  if (lvar <= LVAR_NEGATIVE_BCD_LAST) {
    const magnitude = readBcd(buf, offset, length);
    return fromInteger(magnitude === null ? null : -magnitude, header);
  }
  if (lvar <= LVAR_BINARY_LAST) {
    if (length > LVAR_BINARY_NUMERIC_MAX) return { value: null, unit: numericUnit(header) };
    return fromInteger(readUnsignedInt(buf, offset, length), header);
  }
  // 0xF0–0xFA: floating point of a size EN 13757-3 does not define; the bytes stay available in `raw`.
  return { value: null, unit: numericUnit(header) };
}

/** Data length announced by an LVAR length byte, or -1 for the reserved 0xFB–0xFF range. */
function lvarDataLength(lvar: number): number {
  if (lvar <= LVAR_TEXT_LAST) return lvar;
  if (lvar >= LVAR_POSITIVE_BCD_FIRST && lvar <= LVAR_POSITIVE_BCD_LAST)
    return lvar - LVAR_POSITIVE_BCD_FIRST;
  if (lvar >= LVAR_NEGATIVE_BCD_FIRST && lvar <= LVAR_NEGATIVE_BCD_LAST)
    return lvar - LVAR_NEGATIVE_BCD_FIRST;
  if (lvar >= LVAR_BINARY_FIRST && lvar <= LVAR_BINARY_LAST) return lvar - LVAR_BINARY_FIRST;
  if (lvar >= LVAR_FLOAT_FIRST && lvar <= LVAR_FLOAT_LAST) return lvar - LVAR_FLOAT_FIRST;
  return -1;
}

/** wmbusmeters-style key: repeated headers get "_2", "_3", … in order of appearance. */
function uniqueKey(header: string, seen: Map<string, number>): string {
  const count = (seen.get(header) ?? 0) + 1;
  seen.set(header, count);
  return count === 1 ? header : `${header}_${count}`;
}

/**
 * Parses the data records of an application layer (spec §5). Without `format`, `apl` is a full APL
 * (headers and data interleaved). With `format`, `apl` holds only the data bytes of a compact frame
 * and the headers are taken from `format` in order; `rebuilt` is then the equivalent full APL.
 *
 * Never throws: on a malformed or truncated record it returns the records decoded so far plus an error
 * whose offset is relative to `apl`. Record offsets are those of the DIF in a full APL and of the first
 * data byte in compact mode.
 */
export function parseRecords(apl: Buffer, options?: ParseRecordsOptions): ParseRecordsResult {
  const format = options?.format;
  const compact = format !== undefined;
  const headers = format ?? apl;
  const records: DataRecord[] = [];
  const seen = new Map<string, number>();
  const rebuilt = compact ? Buffer.allocUnsafe(headers.length + apl.length) : undefined;
  let rebuiltLength = 0;
  let h = 0;
  let d = 0;
  let error: DecodeError | undefined;

  while (h < headers.length) {
    const dif = headers[h];
    if (dif === DIF_FILLER) {
      h++;
      if (!compact) d = h;
      continue;
    }

    if ((dif & 0x0f) === 0x0f) {
      // 0x0F / 0x1F (and any other 0x?F): the rest of the APL is manufacturer data, as wmbusmeters does.
      const dataStart = compact ? d : h + 1;
      const data = apl.subarray(dataStart);
      const headerHex = HEX_PAIRS[dif];
      const rawHex = hexOf(apl, dataStart, apl.length);
      if (rebuilt !== undefined) {
        rebuilt[rebuiltLength++] = dif;
        rebuiltLength += data.copy(rebuilt, rebuiltLength);
      }
      records.push({
        key: uniqueKey(headerHex, seen),
        header: headerHex,
        offset: compact ? dataStart : h,
        function: 'instantaneous',
        storage: 0,
        tariff: 0,
        subunit: 0,
        quantity: MANUFACTURER_TAIL.quantity,
        unit: '',
        value: rawHex,
        raw: rawHex,
        combinable: [],
      });
      d = apl.length;
      break;
    }

    const parsed = parseRecordHeader(headers, h);
    if (isHeaderError(parsed)) {
      error = { code: parsed.code, message: parsed.message, offset: compact ? d : parsed.offset };
      break;
    }
    const headerHex = hexOf(headers, h, parsed.end);
    const recordOffset = compact ? d : h;
    const dataStart = compact ? d : parsed.end;

    let valueStart = dataStart;
    let valueLength = parsed.dataCoding.length;
    let lvar = -1;
    if (parsed.dataCoding.coding === 'lvar') {
      if (dataStart >= apl.length) {
        error = truncatedData(headerHex, recordOffset, dataStart, 1, 0);
        break;
      }
      lvar = apl[dataStart];
      valueLength = lvarDataLength(lvar);
      if (valueLength < 0) {
        error = {
          code: 'BAD_RECORD',
          message: `record ${headerHex} at APL offset ${recordOffset}: reserved LVAR length byte 0x${lvar.toString(16)}`,
          offset: dataStart,
        };
        break;
      }
      valueStart = dataStart + 1;
    }
    const dataEnd = valueStart + valueLength;
    if (dataEnd > apl.length) {
      error = truncatedData(headerHex, recordOffset, dataStart, dataEnd - dataStart, apl.length - dataStart);
      break;
    }

    const decoded =
      lvar < 0
        ? decodeFixed(apl, valueStart, valueLength, parsed)
        : decodeLvar(apl, valueStart, lvar, valueLength, parsed);
    records.push({
      key: uniqueKey(headerHex, seen),
      header: headerHex,
      offset: recordOffset,
      function: parsed.function,
      storage: parsed.storage,
      tariff: parsed.tariff,
      subunit: parsed.subunit,
      quantity: parsed.vif.quantity,
      unit: decoded.unit,
      value: decoded.value,
      raw: hexOf(apl, dataStart, dataEnd),
      combinable: parsed.combinable,
    });

    if (rebuilt !== undefined) {
      rebuiltLength += headers.copy(rebuilt, rebuiltLength, h, parsed.end);
      rebuiltLength += apl.copy(rebuilt, rebuiltLength, dataStart, dataEnd);
      h = parsed.end;
      d = dataEnd;
    } else {
      h = dataEnd;
      d = dataEnd;
    }
  }

  if (compact && error === undefined) {
    // Data left after the format is exhausted may only be 0x2F padding (block-cipher fill).
    for (let i = d; i < apl.length; i++) {
      if (apl[i] !== DIF_FILLER) {
        error = {
          code: 'BAD_RECORD',
          message: `compact frame has ${apl.length - d} data bytes beyond what its format describes`,
          offset: d,
        };
        break;
      }
    }
  }

  const result: ParseRecordsResult = { records };
  if (rebuilt !== undefined) result.rebuilt = rebuilt.subarray(0, rebuiltLength);
  if (error !== undefined) result.error = error;
  return result;
}

function truncatedData(
  header: string,
  offset: number,
  at: number,
  needed: number,
  available: number,
): DecodeError {
  return {
    code: 'TRUNCATED',
    message: `record ${header} at APL offset ${offset} needs ${needed} data bytes, ${Math.max(available, 0)} left`,
    offset: at,
  };
}
