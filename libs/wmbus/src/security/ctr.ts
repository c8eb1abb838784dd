import { aesEcbEncrypt } from './aes-ecb-cache';

/**
 * AES-128-CTR as the ELL uses it: the 16-byte counter block is incremented as a big-endian integer
 * per block and the last keystream block is truncated. CTR is symmetric, so this also encrypts.
 * The keystream comes from the per-key cached ECB context (see aes-ecb-cache.ts).
 */
const BLOCK = 16;

/** Counter blocks of the telegram being processed; reused because building them is synchronous. */
let counterScratch = Buffer.alloc(16 * BLOCK);

function counterBlocks(iv: Buffer, blocks: number): Buffer {
  if (counterScratch.length < blocks * BLOCK) counterScratch = Buffer.alloc(blocks * BLOCK);
  const counters = counterScratch.subarray(0, blocks * BLOCK);
  iv.copy(counters, 0, 0, BLOCK);
  for (let b = 1; b < blocks; b++) {
    const at = b * BLOCK;
    counters.copy(counters, at, at - BLOCK, at);
    for (let i = at + BLOCK - 1; i >= at; i--) {
      counters[i] = (counters[i] + 1) & 0xff;
      if (counters[i] !== 0) break;
    }
  }
  return counters;
}

/** Writes `data` XOR keystream to `out` from `outOffset` (which may be `data` itself, in place). */
export function aesCtrInto(key: Buffer, iv: Buffer, data: Buffer, out: Buffer, outOffset: number): void {
  const keystream = aesEcbEncrypt(key, counterBlocks(iv, Math.ceil(data.length / BLOCK)));
  for (let i = 0; i < data.length; i++) out[outOffset + i] = data[i] ^ keystream[i];
}

export function aesCtr(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(data.length);
  aesCtrInto(key, iv, data, out, 0);
  return out;
}
