import { createCipheriv } from 'node:crypto';

/**
 * AES-CMAC (RFC 4493 / NIST SP 800-38B) on node:crypto's AES-128-ECB, and the OMS mode-7 key
 * derivation built on it (EN 13757-7 §9.5: K = CMAC(master, D ‖ C ‖ ID ‖ 07×7)).
 */

const BLOCK = 16;
const RB = 0x87;

function aesEcbBlock(key: Buffer, block: Buffer): Buffer {
  const cipher = createCipheriv('aes-128-ecb', key, null);
  cipher.setAutoPadding(false);
  return cipher.update(block);
}

/** Left shift of a 128-bit block by one bit, XOR Rb when the top bit fell off. */
function doubleBlock(block: Buffer): Buffer {
  const out = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) {
    out[i] = ((block[i] << 1) | (i + 1 < BLOCK ? block[i + 1] >> 7 : 0)) & 0xff;
  }
  if (block[0] & 0x80) out[BLOCK - 1] ^= RB;
  return out;
}

export function aesCmac(key: Buffer, message: Buffer): Buffer {
  const l = aesEcbBlock(key, Buffer.alloc(BLOCK));
  const k1 = doubleBlock(l);
  const k2 = doubleBlock(k1);
  const blocks = Math.max(1, Math.ceil(message.length / BLOCK));
  const complete = message.length > 0 && message.length % BLOCK === 0;
  const last = Buffer.alloc(BLOCK);
  const lastStart = (blocks - 1) * BLOCK;
  message.copy(last, 0, lastStart);
  if (complete) {
    for (let i = 0; i < BLOCK; i++) last[i] ^= k1[i];
  } else {
    last[message.length - lastStart] = 0x80;
    for (let i = 0; i < BLOCK; i++) last[i] ^= k2[i];
  }
  // CBC-MAC over all blocks with a zero IV; only the final chaining value matters.
  const cipher = createCipheriv('aes-128-cbc', key, Buffer.alloc(BLOCK));
  cipher.setAutoPadding(false);
  const chained = cipher.update(Buffer.concat([message.subarray(0, lastStart), last]));
  return chained.subarray(chained.length - BLOCK);
}

export const KDF_ENCRYPTION_FROM_METER = 0x00;
export const KDF_MAC_FROM_METER = 0x01;

/** Mode-7 ephemeral key: CMAC(master, constant ‖ counter(4, wire order) ‖ meter id(4, wire order) ‖ 07×7). */
export function deriveMode7Key(masterKey: Buffer, constant: number, counter: Buffer, idWire: Buffer): Buffer {
  const input = Buffer.alloc(BLOCK, 0x07);
  input[0] = constant;
  counter.copy(input, 1, 0, 4);
  idWire.copy(input, 5, 0, 4);
  return aesCmac(masterKey, input);
}
