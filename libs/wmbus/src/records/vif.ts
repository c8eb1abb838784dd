import type { DecodeErrorCode, RecordFunction } from '../types';
import { applyDife, DATA_FIELD_CODINGS, EXTENSION_BIT, MAX_DIFES, MAX_VIFES, RECORD_FUNCTIONS } from './dif';
import type { DataFieldCoding, DifeAddress } from './dif';
import {
  ANY_VIF,
  EF_VIFS,
  FB_VIFS,
  FD_VIFS,
  MANUFACTURER_VIF,
  PLAIN_TEXT_VIF,
  PRIMARY_VIFS,
  VIF_ANY,
  VIF_FIRST_EXTENSION,
  VIF_MANUFACTURER,
  VIF_PLAIN_TEXT,
  VIF_SECOND_EXTENSION,
  VIF_THIRD_EXTENSION,
} from './vif-tables';
import type { VifDescriptor } from './vif-tables';
import { readReversedAscii } from './values';

/** Combinable VIFE codes 0x7C and 0x7F announce a second byte (0x7Cxx phase/quadrant, 0x7Fxx manufacturer). */
const COMBINABLE_TWO_BYTE_PREFIX_A = 0x7c;
const COMBINABLE_TWO_BYTE_PREFIX_B = 0x7f;
/** Combinable multiplicative correction 10^(n−6), codes 0x70–0x77, and ×10³ (0x7D). */
const CORRECTION_FIRST = 0x70;
const CORRECTION_LAST = 0x77;
const CORRECTION_THOUSAND = 0x7d;

/** A parsed DIF…VIFE header (plus plain-text unit), everything needed to decode the data that follows. */
export interface RecordHeader extends DifeAddress {
  dif: number;
  /** Offset just past the header in the header buffer. */
  end: number;
  dataCoding: DataFieldCoding;
  function: RecordFunction;
  vif: VifDescriptor;
  /** Decimal exponent contributed by combinable multiplicative corrections. */
  exponentCorrection: number;
  combinable: number[];
  /** Unit string of a plain-text VIF (0x7C/0xFC). */
  plainTextUnit: string | undefined;
}

export interface HeaderError {
  code: DecodeErrorCode;
  message: string;
  offset: number;
}

function truncated(start: number, at: number): HeaderError {
  return {
    code: 'TRUNCATED',
    message: `record header at APL offset ${start} runs past the end (byte ${at} missing)`,
    offset: at,
  };
}

/**
 * Parses the record header starting at `start` (a DIF that is neither a filler nor a special 0x?F DIF).
 * Never reads past `buf.length`; returns a HeaderError instead.
 */
export function parseRecordHeader(buf: Buffer, start: number): RecordHeader | HeaderError {
  const length = buf.length;
  let pos = start;
  const dif = buf[pos++];
  const address: DifeAddress = { storage: (dif >> 6) & 1, tariff: 0, subunit: 0 };
  let more = (dif & EXTENSION_BIT) !== 0;
  let difeCount = 0;
  while (more) {
    if (pos >= length) return truncated(start, pos);
    if (difeCount === MAX_DIFES) {
      return {
        code: 'BAD_RECORD',
        message: `record at APL offset ${start} has more than ${MAX_DIFES} DIFEs`,
        offset: pos,
      };
    }
    const dife = buf[pos++];
    applyDife(address, dife, difeCount++);
    more = (dife & EXTENSION_BIT) !== 0;
  }

  if (pos >= length) return truncated(start, pos);
  const vifByte = buf[pos++];
  const vifCode = vifByte & 0x7f;
  more = (vifByte & EXTENSION_BIT) !== 0;
  let vifeCount = 0;
  let vif: VifDescriptor;
  let manufacturer = false;
  let plainText = false;
  if (
    vifCode === VIF_FIRST_EXTENSION ||
    vifCode === VIF_SECOND_EXTENSION ||
    vifCode === VIF_THIRD_EXTENSION
  ) {
    if (!more) {
      return {
        code: 'BAD_RECORD',
        message: `record at APL offset ${start}: extension VIF 0x${vifByte.toString(16)} without its code byte`,
        offset: pos - 1,
      };
    }
    if (pos >= length) return truncated(start, pos);
    const code = buf[pos++];
    vifeCount++;
    const table =
      vifCode === VIF_FIRST_EXTENSION ? FB_VIFS : vifCode === VIF_SECOND_EXTENSION ? FD_VIFS : EF_VIFS;
    vif = table[code & 0x7f];
    more = (code & EXTENSION_BIT) !== 0;
  } else if (vifCode === VIF_MANUFACTURER) {
    vif = MANUFACTURER_VIF;
    manufacturer = true;
    // The VIFE after a manufacturer VIF is the manufacturer's own code: part of the VIF, not a modifier.
    if (more) {
      if (pos >= length) return truncated(start, pos);
      const code = buf[pos++];
      vifeCount++;
      more = (code & EXTENSION_BIT) !== 0;
    }
  } else if (vifCode === VIF_ANY) {
    vif = ANY_VIF;
  } else if (vifCode === VIF_PLAIN_TEXT) {
    vif = PLAIN_TEXT_VIF;
    plainText = true;
  } else {
    vif = PRIMARY_VIFS[vifCode];
  }

  const combinable: number[] = [];
  let exponentCorrection = 0;
  while (more) {
    if (pos >= length) return truncated(start, pos);
    if (vifeCount === MAX_VIFES) {
      return {
        code: 'BAD_RECORD',
        message: `record at APL offset ${start} has more than ${MAX_VIFES} VIFEs`,
        offset: pos,
      };
    }
    const vife = buf[pos++];
    vifeCount++;
    let code = vife & 0x7f;
    more = (vife & EXTENSION_BIT) !== 0;
    if (more && (code === COMBINABLE_TWO_BYTE_PREFIX_A || code === COMBINABLE_TWO_BYTE_PREFIX_B)) {
      if (pos >= length) return truncated(start, pos);
      const second = buf[pos++];
      code = (code << 8) | (second & 0x7f);
      more = (second & EXTENSION_BIT) !== 0;
    }
    combinable.push(code);
    // After a manufacturer VIF every VIFE is manufacturer-defined, so no standard correction applies.
    if (!manufacturer) {
      if (code >= CORRECTION_FIRST && code <= CORRECTION_LAST) exponentCorrection += code - 0x76;
      else if (code === CORRECTION_THOUSAND) exponentCorrection += 3;
    }
  }

  let plainTextUnit: string | undefined;
  if (plainText) {
    if (pos >= length) return truncated(start, pos);
    const textLength = buf[pos++];
    if (pos + textLength > length) return truncated(start, length);
    plainTextUnit = readReversedAscii(buf, pos, textLength);
    pos += textLength;
  }

  return {
    dif,
    end: pos,
    dataCoding: DATA_FIELD_CODINGS[dif & 0x0f],
    function: RECORD_FUNCTIONS[(dif >> 4) & 0x03],
    storage: address.storage,
    tariff: address.tariff,
    subunit: address.subunit,
    vif,
    exponentCorrection,
    combinable,
    plainTextUnit,
  };
}

export function isHeaderError(result: RecordHeader | HeaderError): result is HeaderError {
  return (result as HeaderError).code !== undefined;
}
