import { parseDll, stripFrame } from '@hes/wmbus';
import type { RejectReason } from './telegram-item';

/**
 * What the collector checks of a telegram without decrypting it: framing (data-link CRCs when the
 * frame carries them, via the codec's frame detection), the L-field against the bytes received, the
 * C-field, and the DLL identity used for partitioning. The payload stays encrypted until the decryptor.
 */
export interface FrameInfo {
  ok: true;
  meterId: string;
  manufacturer: string;
  version: number;
  deviceType: number;
  /**
   * The telegram without data-link CRCs: the same radio frame delivered with CRCs by one gateway
   * and stripped by another is the same telegram, so this (not the raw input) is what dedup hashes.
   */
  dedupBytes: Buffer;
}

export type FrameCheck = FrameInfo | { ok: false; reason: RejectReason };

export function checkFrame(telegram: Buffer): FrameCheck {
  const stripped = stripFrame(telegram);
  if (!stripped.ok) return reject(stripped.error.code, stripped.error.message);
  const bytes = stripped.frame.bytes;
  const declared = bytes[0] + 1;
  // Fewer bytes than L announces is a truncated frame. More bytes than L is tolerated, as the codec
  // and wmbusmeters do (some receivers append bytes); the decoder reads only what L covers.
  if (declared > bytes.length) {
    return reject('BAD_LENGTH', `L-field announces ${declared} bytes but the telegram has ${bytes.length}`);
  }
  const dll = parseDll(bytes);
  if (!dll.ok) return reject(dll.error.code, dll.error.message);
  return {
    ok: true,
    meterId: dll.dll.id,
    manufacturer: dll.dll.manufacturer,
    version: dll.dll.version,
    deviceType: dll.dll.deviceType,
    dedupBytes: bytes.subarray(0, declared),
  };
}

function reject(code: string, message: string): { ok: false; reason: RejectReason } {
  return { ok: false, reason: { code, message, field: 'telegram' } };
}
