import { idFromWire, manufacturerFromCode } from './dll';
import type { DecodeError, EllInfo } from './types';

/**
 * Extended link layer (EN 13757-4, CI 0x8C–0x8F). ELL II/IV carry a session number whose top three
 * bits select the encryption (1 = AES-128-CTR, used by Kamstrup) and a payload CRC over the rest of
 * the frame; when encrypted, the CRC field itself is the first ciphertext byte pair.
 */

export const ELL_I = 0x8c;
export const ELL_II = 0x8d;
export const ELL_III = 0x8e;
export const ELL_IV = 0x8f;
export const ELL_V = 0x86;

export const ELL_ENCRYPTION_NONE = 0;
export const ELL_ENCRYPTION_AES_CTR = 1;

export interface ParsedEll {
  info: EllInfo;
  /** Offset of the payload CRC field (ELL II/IV), i.e. the start of the CTR ciphertext. */
  payloadCrcOffset?: number;
  /** ELL III/IV second address, as wire bytes for identity purposes. */
  address2?: {
    manufacturerCode: number;
    manufacturer: string;
    id: string;
    version: number;
    deviceType: number;
  };
  /** Offset of the first byte after the ELL (after the payload CRC for II/IV). */
  end: number;
}

export function isEllCi(ci: number): boolean {
  return ci >= ELL_I && ci <= ELL_IV;
}

/** Parses an ELL whose CI is at `pos`. Caller checked `isEllCi(bytes[pos])`. */
export function parseEll(
  bytes: Buffer,
  pos: number,
): { ok: true; ell: ParsedEll } | { ok: false; error: DecodeError } {
  const ci = bytes[pos];
  const hasAddress = ci === ELL_III || ci === ELL_IV;
  const hasSession = ci === ELL_II || ci === ELL_IV;
  const needed = 3 + (hasAddress ? 8 : 0) + (hasSession ? 6 : 0);
  if (pos + needed > bytes.length) {
    return {
      ok: false,
      error: {
        code: 'TRUNCATED',
        message: `ELL (CI 0x${ci.toString(16)}) needs ${needed} bytes, ${bytes.length - pos} left`,
        offset: pos,
      },
    };
  }
  const info: EllInfo = { ci, cc: bytes[pos + 1], acc: bytes[pos + 2] };
  let p = pos + 3;
  let address2: ParsedEll['address2'];
  if (hasAddress) {
    const manufacturerCode = bytes[p] | (bytes[p + 1] << 8);
    address2 = {
      manufacturerCode,
      manufacturer: manufacturerFromCode(manufacturerCode),
      id: idFromWire(bytes, p + 2),
      version: bytes[p + 6],
      deviceType: bytes[p + 7],
    };
    info.manufacturer2 = address2.manufacturer;
    info.id2 = address2.id;
    p += 8;
  }
  let payloadCrcOffset: number | undefined;
  if (hasSession) {
    const sn = bytes.readUInt32LE(p);
    info.sessionNumber = sn;
    info.encryption = sn >>> 29;
    p += 4;
    payloadCrcOffset = p;
    p += 2;
  }
  return { ok: true, ell: { info, payloadCrcOffset, address2, end: p } };
}

/**
 * Initial counter block for ELL AES-CTR: M(2) A(6) from the DLL (also for ELL IV, as wmbusmeters does),
 * CC with the hop (0x10) and repeated-access (0x02) bits cleared, SN(4) as on the wire, FN 0000, BC 00.
 */
export function ellCtrIv(frame: Buffer, cc: number, snOffset: number): Buffer {
  const iv = Buffer.alloc(16);
  frame.copy(iv, 0, 2, 10);
  iv[8] = cc & ~0x12;
  frame.copy(iv, 9, snOffset, snOffset + 4);
  return iv;
}
