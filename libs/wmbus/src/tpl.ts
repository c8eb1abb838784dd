import { idFromWire, manufacturerFromCode } from './dll';
import type { DecodeError, TplInfo } from './types';

/**
 * Transport layer (EN 13757-7) headers. Long header (0x72/0x73): ID(4) M(2) version type ACC STS CFG(2);
 * short header (0x7A/0x7B): ACC STS CFG(2); no header (0x78/0x79). CFG carries the security mode in
 * bits 8–12 and, for modes 5 and 7, the number of encrypted 16-byte blocks in bits 4–7; mode 7 adds a
 * CFG-extension byte (bits 4–5: KDF selection).
 */

export const CI_LONG = 0x72;
export const CI_LONG_COMPACT = 0x73;
export const CI_NONE = 0x78;
export const CI_NONE_COMPACT = 0x79;
export const CI_SHORT = 0x7a;
export const CI_SHORT_COMPACT = 0x7b;
/** "APL follows": listed by wmbusmeters, handled like a manufacturer-specific payload. */
export const CI_APL_FOLLOWS = 0x51;

export const SECURITY_NONE = 0;
export const SECURITY_DES_NO_IV = 2;
export const SECURITY_DES_IV = 3;
export const SECURITY_AES_CBC_IV = 5;
export const SECURITY_AES_CBC_NO_IV = 7;

export function isTplCi(ci: number): boolean {
  return (
    ci === CI_LONG ||
    ci === CI_LONG_COMPACT ||
    ci === CI_NONE ||
    ci === CI_NONE_COMPACT ||
    ci === CI_SHORT ||
    ci === CI_SHORT_COMPACT
  );
}

export function isManufacturerCi(ci: number): boolean {
  return (ci >= 0xa0 && ci <= 0xb7) || ci === CI_APL_FOLLOWS;
}

export function isCompactCi(ci: number): boolean {
  return ci === CI_NONE_COMPACT || ci === CI_SHORT_COMPACT || ci === CI_LONG_COMPACT;
}

export interface TplAddress {
  manufacturerCode: number;
  manufacturer: string;
  id: string;
  version: number;
  deviceType: number;
  /** Offset of the 8 bytes ID(4) M(2)… as on the wire — the mode-5 IV takes M then ID/version/type. */
  offset: number;
}

export interface ParsedTpl {
  info: TplInfo;
  /** TPL security mode from CFG bits 8–12 (0 when there is no CFG). */
  securityMode: number;
  kdfSelection?: number;
  address?: TplAddress;
  /** Offset of the CI byte (start of the mode-7 MAC input). */
  start: number;
  /** Offset of the first byte after the header (start of the encrypted region / APL). */
  end: number;
}

export function parseTpl(
  bytes: Buffer,
  pos: number,
): { ok: true; tpl: ParsedTpl } | { ok: false; error: DecodeError } {
  const ci = bytes[pos];
  const info: TplInfo = { ci };
  let p = pos + 1;
  const truncated = (what: string): { ok: false; error: DecodeError } => ({
    ok: false,
    error: {
      code: 'TRUNCATED',
      message: `TPL (CI 0x${ci.toString(16)}) ${what} runs past the end`,
      offset: p,
    },
  });
  let address: TplAddress | undefined;
  if (ci === CI_LONG || ci === CI_LONG_COMPACT) {
    if (p + 8 > bytes.length) return truncated('long header address');
    const manufacturerCode = bytes[p + 4] | (bytes[p + 5] << 8);
    address = {
      manufacturerCode,
      manufacturer: manufacturerFromCode(manufacturerCode),
      id: idFromWire(bytes, p),
      version: bytes[p + 6],
      deviceType: bytes[p + 7],
      offset: p,
    };
    info.id = address.id;
    info.manufacturer = address.manufacturer;
    info.version = address.version;
    info.deviceType = address.deviceType;
    p += 8;
  }
  let securityMode = SECURITY_NONE;
  let kdfSelection: number | undefined;
  if (ci !== CI_NONE && ci !== CI_NONE_COMPACT) {
    if (p + 4 > bytes.length) return truncated('ACC/STS/CFG');
    info.acc = bytes[p];
    info.status = bytes[p + 1];
    const cfg = bytes.readUInt16LE(p + 2);
    info.config = cfg;
    p += 4;
    securityMode = (cfg >> 8) & 0x1f;
    if (securityMode === SECURITY_AES_CBC_IV || securityMode === SECURITY_AES_CBC_NO_IV) {
      info.encryptedBlocks = (cfg >> 4) & 0x0f;
    }
    if (securityMode === SECURITY_AES_CBC_NO_IV) {
      if (p + 1 > bytes.length) return truncated('CFG extension');
      info.configExt = bytes[p];
      kdfSelection = (bytes[p] >> 4) & 0x03;
      p += 1;
    }
  }
  return { ok: true, tpl: { info, securityMode, kdfSelection, address, start: pos, end: p } };
}
