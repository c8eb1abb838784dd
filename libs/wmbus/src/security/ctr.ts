import { createCipheriv } from 'node:crypto';
import type { Cipher } from 'node:crypto';

/**
 * AES-128-CTR as the ELL uses it: the 16-byte counter block is incremented as a big-endian integer
 * per block and the last keystream block is truncated. CTR is symmetric, so this also encrypts.
 *
 * Speed: creating an OpenSSL cipher context costs several microseconds, more than the AES work on a
 * 40-byte telegram. The keystream is therefore made with an AES-ECB context cached per key Buffer
 * (ECB keeps no state between whole blocks, so one context serves every telegram of that meter). The
 * cache is a WeakMap: it lives exactly as long as the caller's key Buffer, and holds no copy of the
 * key. Key Buffers must not be modified in place after use.
 */
const ecbByKey = new WeakMap<Buffer, Cipher>();

function ecbFor(key: Buffer): Cipher {
  let ecb = ecbByKey.get(key);
  if (!ecb) {
    ecb = createCipheriv('aes-128-ecb', key, null);
    ecb.setAutoPadding(false);
    ecbByKey.set(key, ecb);
  }
  return ecb;
}

const BLOCK = 16;

export function aesCtr(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const blocks = Math.ceil(data.length / BLOCK);
  const counters = Buffer.allocUnsafe(blocks * BLOCK);
  iv.copy(counters, 0, 0, BLOCK);
  for (let b = 1; b < blocks; b++) {
    const at = b * BLOCK;
    counters.copy(counters, at, at - BLOCK, at);
    for (let i = at + BLOCK - 1; i >= at; i--) {
      counters[i] = (counters[i] + 1) & 0xff;
      if (counters[i] !== 0) break;
    }
  }
  const keystream = ecbFor(key).update(counters);
  const out = Buffer.allocUnsafe(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] ^ keystream[i];
  return out;
}
