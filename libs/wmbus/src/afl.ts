import { toHex } from './hex';
import type { AflInfo, DecodeError } from './types';

/**
 * Authentication and fragmentation layer (EN 13757-7, CI 0x90). Fields are read in the standard's
 * order — FCL, MCL, KI, MCR, MAC, ML — each present according to the FCL/MCL presence bits, and all
 * bounded by AFL.L (wmbusmeters skips ML; we consume it so the TPL starts where it really does).
 */

export const AFL_CI = 0x90;

const FC_KEY_INFO = 0x0200;
const FC_MAC = 0x0400;
const FC_COUNTER = 0x0800;
const FC_LENGTH = 0x1000;
const FC_MCL = 0x2000;
const FC_MORE_FRAGMENTS = 0x4000;

/** MAC length by MCL authentication type (bits 0–3): AES-CMAC-128 truncated to 2/4/8/12/16, GMAC 12. */
const MAC_LENGTH: Readonly<Record<number, number>> = { 3: 2, 4: 4, 5: 8, 6: 12, 7: 16, 8: 12 };
const AUTH_GMAC = 8;

export interface ParsedAfl {
  info: AflInfo;
  /** The MAC as received (undefined when absent). */
  mac?: Buffer;
  /** Authentication type from MCL bits 0–3 (0 = none). */
  authType: number;
  /** Bytes that precede the TPL in the MAC input: MCL, KI (if any), MCR, ML (if any). */
  macPrefix: Buffer;
  /** Message counter as wire bytes (LSB first), for the mode-7 KDF. */
  counterBytes?: Buffer;
  moreFragments: boolean;
  end: number;
}

function fail(code: DecodeError['code'], message: string, offset: number): { ok: false; error: DecodeError } {
  return { ok: false, error: { code, message, offset } };
}

export function parseAfl(
  bytes: Buffer,
  pos: number,
): { ok: true; afl: ParsedAfl } | { ok: false; error: DecodeError } {
  if (pos + 4 > bytes.length) return fail('TRUNCATED', 'AFL header runs past the end of the telegram', pos);
  const aflLength = bytes[pos + 1];
  const end = pos + 2 + aflLength;
  if (end > bytes.length) {
    return fail('TRUNCATED', `AFL.L says ${aflLength} bytes, ${bytes.length - pos - 2} left`, pos + 1);
  }
  const fc = bytes.readUInt16LE(pos + 2);
  const info: AflInfo = { fragmentControl: fc };
  let p = pos + 4;
  const need = (n: number, what: string): DecodeError | undefined =>
    p + n > end ? { code: 'TRUNCATED', message: `AFL ${what} runs past AFL.L`, offset: p } : undefined;
  const prefixParts: Buffer[] = [];
  let authType = 0;
  if (fc & FC_MCL) {
    const e = need(1, 'MCL');
    if (e) return { ok: false, error: e };
    info.messageControl = bytes[p];
    authType = bytes[p] & 0x0f;
    prefixParts.push(bytes.subarray(p, p + 1));
    p += 1;
  }
  if (fc & FC_KEY_INFO) {
    const e = need(2, 'key info');
    if (e) return { ok: false, error: e };
    info.keyInfo = bytes.readUInt16LE(p);
    prefixParts.push(bytes.subarray(p, p + 2));
    p += 2;
  }
  let counterBytes: Buffer | undefined;
  if (fc & FC_COUNTER) {
    const e = need(4, 'message counter');
    if (e) return { ok: false, error: e };
    info.messageCounter = bytes.readUInt32LE(p);
    counterBytes = bytes.subarray(p, p + 4);
    prefixParts.push(counterBytes);
    p += 4;
  }
  let mac: Buffer | undefined;
  if (fc & FC_MAC) {
    const macLength = MAC_LENGTH[authType];
    if (macLength === undefined) {
      return fail(
        'UNSUPPORTED_SECURITY',
        `AFL authentication type ${authType} has no defined MAC length`,
        pos,
      );
    }
    const e = need(macLength, 'MAC');
    if (e) return { ok: false, error: e };
    mac = bytes.subarray(p, p + macLength);
    info.mac = toHex(mac);
    p += macLength;
  }
  if (fc & FC_LENGTH) {
    const e = need(2, 'message length');
    if (e) return { ok: false, error: e };
    info.messageLength = bytes.readUInt16LE(p);
    prefixParts.push(bytes.subarray(p, p + 2));
    p += 2;
  }
  return {
    ok: true,
    afl: {
      info,
      mac,
      authType,
      macPrefix: Buffer.concat(prefixParts),
      counterBytes,
      moreFragments: (fc & FC_MORE_FRAGMENTS) !== 0,
      end,
    },
  };
}

export function isGmac(authType: number): boolean {
  return authType === AUTH_GMAC;
}
