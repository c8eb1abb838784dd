import { createCipheriv, createDecipheriv } from 'node:crypto';
import { aesEcbDecrypt } from './aes-ecb-cache';

/**
 * Raw CBC over whole blocks (no padding): AES-128 for TPL modes 5/7, single DES (as 3DES with K1=K2=K3,
 * since OpenSSL 3 moved plain DES to the legacy provider) for the deprecated mode 2.
 */
function cipherName(key: Buffer): string {
  if (key.length === 16) return 'aes-128-cbc';
  if (key.length === 8) return 'des-ede3-cbc';
  throw new RangeError(`CBC key must be 16 (AES) or 8 (DES) bytes, got ${key.length}`);
}

function expandKey(key: Buffer): Buffer {
  return key.length === 8 ? Buffer.concat([key, key, key]) : key;
}

export function cbcDecrypt(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const decipher = createDecipheriv(cipherName(key), expandKey(key), iv);
  decipher.setAutoPadding(false);
  const head = decipher.update(data);
  const tail = decipher.final();
  return tail.length === 0 ? head : Buffer.concat([head, tail]);
}

/**
 * AES-128-CBC decryption with a meter's long-lived key (mode 5): the same result as `cbcDecrypt`, built
 * from the per-key cached ECB context (P[i] = D(C[i]) XOR C[i-1], C[-1] = IV) so that no cipher context
 * is created per telegram. `data.length` must be a multiple of 16.
 */
export function aesCbcDecryptWithMeterKey(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const plain = aesEcbDecrypt(key, data);
  for (let i = 0; i < 16 && i < plain.length; i++) plain[i] ^= iv[i];
  for (let i = 16; i < plain.length; i++) plain[i] ^= data[i - 16];
  return plain;
}

export function cbcEncrypt(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const cipher = createCipheriv(cipherName(key), expandKey(key), iv);
  cipher.setAutoPadding(false);
  const head = cipher.update(data);
  const tail = cipher.final();
  return tail.length === 0 ? head : Buffer.concat([head, tail]);
}
