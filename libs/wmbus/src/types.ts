/**
 * Public contracts of the wireless M-Bus codec. Everything here is plain data so that results can
 * cross worker-thread and process boundaries (structured clone / JSON) unchanged.
 */

/** Machine-readable error codes. Stable: they appear in dead-letter messages and API responses. */
export type DecodeErrorCode =
  | 'BAD_INPUT' // not hex / empty
  | 'TOO_SHORT' // fewer bytes than a DLL header or than a layer needs
  | 'BAD_LENGTH' // L-field inconsistent with the bytes received
  | 'BAD_CRC' // a data-link block CRC failed (frame format A/B detected but CRC wrong)
  | 'BAD_C_FIELD' // not a wM-Bus SND_NR/SND_IR frame and not a wired long frame
  | 'UNKNOWN_CI' // a CI field the decoder does not know
  | 'TRUNCATED' // a layer or record runs past the end of the telegram
  | 'NO_KEY' // encrypted, but no key was given for this meter
  | 'DECRYPTION_FAILED' // wrong key or corrupt telegram: 2F2F / payload CRC check failed
  | 'MAC_MISMATCH' // wrong key or corrupt telegram: AFL MAC does not verify
  | 'UNEXPECTED_PLAINTEXT' // a key is configured but the telegram claims no/failed encryption
  | 'UNSUPPORTED_SECURITY' // a security mode the decoder does not implement
  | 'UNKNOWN_COMPACT_FORMAT' // compact frame whose signature is not (yet) known
  | 'COMPACT_CRC_MISMATCH' // rebuilt full frame does not match its CRC: reported only as a warning prefix
  | 'BAD_RECORD'; // a data record cannot be parsed

export interface DecodeError {
  code: DecodeErrorCode;
  /** Human message; names the meter and, for security failures, says "wrong key or corrupt telegram". */
  message: string;
  /** Byte offset (in the CRC-stripped telegram) where the problem was found, when known. */
  offset?: number;
}

export type FrameFormat = 'A' | 'B' | 'none' | 'wired';

export interface EllInfo {
  ci: number;
  cc: number;
  acc: number;
  /** ELL III/IV second address. */
  manufacturer2?: string;
  id2?: string;
  /** ELL II/IV session number field (32-bit) and its encryption bits 29-31. */
  sessionNumber?: number;
  encryption?: number;
}

export interface AflInfo {
  fragmentControl: number;
  messageControl?: number;
  keyInfo?: number;
  messageCounter?: number;
  messageLength?: number;
  mac?: string;
}

export interface TplInfo {
  ci: number;
  /** Long header (0x72/0x73) identity, which overrides the DLL for id/medium. */
  id?: string;
  manufacturer?: string;
  version?: number;
  deviceType?: number;
  acc?: number;
  status?: number;
  config?: number;
  configExt?: number;
  /** Number of 16-byte encrypted blocks declared in CFG (0 = all). */
  encryptedBlocks?: number;
}

export interface TelegramHeader {
  frameFormat: FrameFormat;
  length: number;
  cField: number;
  manufacturer: string;
  /** 16-bit manufacturer code as on the wire (little-endian value). */
  manufacturerCode: number;
  /** DLL address id, 8 hex digits as printed by wmbusmeters (BCD digits, MSB first). */
  dllId: string;
  /** Identity of the meter: the last address found (TPL long header > ELL > DLL). */
  id: string;
  version: number;
  deviceType: number;
  /** wmbusmeters `media` string of the meter's device type (e.g. "cold water"). */
  medium: string;
  ell?: EllInfo;
  afl?: AflInfo;
  tpl?: TplInfo;
}

/** none | 'ell-ctr' (Kamstrup) | TPL mode 5 / 7 | other modes the decoder names but may not implement. */
/** 'mfct-aes-cbc': a driver decrypted a manufacturer-specific CI payload with the meter key. */
export type SecurityMode = 'none' | 'ell-aes-ctr' | 'mode-5' | 'mode-7' | 'mfct-aes-cbc' | `mode-${number}`;

export type RecordFunction = 'instantaneous' | 'maximum' | 'minimum' | 'error';

export interface DataRecord {
  /** Upper-case hex of DIF+DIFEs+VIF+VIFEs, wmbusmeters style ("0413", "02FF20"); repeats get "_2", "_3". */
  key: string;
  /** DIF, DIFEs, VIF, VIFEs (incl. plain-text unit bytes) exactly as on the wire, hex: what a compact format stores. */
  header: string;
  offset: number;
  function: RecordFunction;
  storage: number;
  tariff: number;
  subunit: number;
  /** Quantity name, e.g. "volume", "energy", "flow_temperature", "date", "manufacturer_specific". */
  quantity: string;
  /**
   * Unit token of `value`, in wmbusmeters' preferred unit for the quantity (kwh, mj, m3, m3h, c, k,
   * bar, h, kw, w, v, a, hca, rh, date, datetime, counter, ...); "" for text and raw values.
   */
  unit: string;
  /** Scaled numeric value, date string (YYYY-MM-DD / YYYY-MM-DD HH:MM[:SS]), text, or null (invalid/no value). */
  value: number | string | null;
  /** Raw data bytes of the record, hex. */
  raw: string;
  /** Combinable VIFE codes (orthogonal modifiers), e.g. [0x3b] for forward flow. */
  combinable: number[];
}

/** A named reading for a known meter type: the wmbusmeters JSON field and its value. */
export type FieldValue = number | string | null;

export interface DecodeResult {
  ok: boolean;
  header?: TelegramHeader;
  security: SecurityMode;
  /** Which data-link framing was detected and stripped. */
  frameFormat?: FrameFormat;
  records: DataRecord[];
  /** Driver name that produced `fields` ("kamwater", ...) or "generic". */
  driver?: string;
  /**
   * wmbusmeters-compatible JSON fields ("_", media, meter, id, total_m3, status, ...) for known meter
   * types; for other meters the generic fields derived from records. On failure: the header-only fields
   * (`_`, media, meter, name, id) when the header parsed, else empty.
   */
  fields: Record<string, FieldValue>;
  error?: DecodeError;
  /**
   * Non-fatal observations (e.g. L-field mismatch tolerated). Those a caller may act on start with a
   * code and a colon: "COMPACT_CRC_MISMATCH: …".
   */
  warnings: string[];
}
