import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { Cipher, Decipher } from 'node:crypto';

/**
 * AES-128-ECB contexts cached per meter key, from which the CTR keystream and CBC decryption are built.
 *
 * Why: creating an OpenSSL context costs several microseconds, more than the AES work on a 40–100 byte
 * telegram, and a meter's key is used for every telegram it sends. ECB with padding off keeps no state
 * between whole-block `update()` calls, so one context serves every telegram of that key.
 *
 * The cache is keyed by the key BYTES, so callers may rebuild or reuse key Buffers freely, and it is a
 * bounded LRU so that a stream over millions of meters cannot grow it without limit. Only meter keys
 * belong here: per-telegram derived keys (mode 7) would just evict them. Keys never leave this module.
 *
 * Size: a context costs about 1.5 KB of native memory and ~8 µs to create. Meters are read round-robin,
 * so an LRU smaller than the set of meters a thread serves misses on every telegram; 32,768 contexts
 * (~50 MB per thread and direction at worst) cover a thread serving that many meters — beyond that,
 * partitioning by meter group keeps each consumer's meter set within it.
 */
export const AES_CONTEXT_CACHE_SIZE = 32_768;

function sameBytes(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

class ContextCache<T extends Cipher | Decipher> {
  private readonly contexts = new Map<string, T>();
  /** Copy of the last key's bytes and its context: runs of telegrams from one meter skip the map. */
  private readonly lastKey = Buffer.alloc(16);
  private lastContext: T | undefined;

  constructor(private readonly create: (key: Buffer) => T) {}

  get(key: Buffer): T {
    if (this.lastContext && sameBytes(key, this.lastKey)) return this.lastContext;
    const context = this.lookup(key);
    if (key.length === this.lastKey.length) {
      key.copy(this.lastKey);
      this.lastContext = context;
    }
    return context;
  }

  private lookup(key: Buffer): T {
    const id = key.toString('latin1');
    let context = this.contexts.get(id);
    if (context) {
      // Refresh recency: Map iteration order is insertion order, so the first entry is the oldest.
      this.contexts.delete(id);
    } else {
      context = this.create(key);
      if (this.contexts.size >= AES_CONTEXT_CACHE_SIZE) {
        this.contexts.delete(this.contexts.keys().next().value as string);
      }
    }
    this.contexts.set(id, context);
    return context;
  }

  get size(): number {
    return this.contexts.size;
  }
}

const encryptors = new ContextCache<Cipher>((key) => {
  const cipher = createCipheriv('aes-128-ecb', key, null);
  cipher.setAutoPadding(false);
  return cipher;
});

const decryptors = new ContextCache<Decipher>((key) => {
  const decipher = createDecipheriv('aes-128-ecb', key, null);
  decipher.setAutoPadding(false);
  return decipher;
});

/** AES-128 encryption of whole 16-byte blocks under `key`; `blocks.length` must be a multiple of 16. */
export function aesEcbEncrypt(key: Buffer, blocks: Buffer): Buffer {
  return encryptors.get(key).update(blocks);
}

/** AES-128 decryption of whole 16-byte blocks under `key`; `blocks.length` must be a multiple of 16. */
export function aesEcbDecrypt(key: Buffer, blocks: Buffer): Buffer {
  return decryptors.get(key).update(blocks);
}

/** Number of cached contexts (encrypt + decrypt), for tests of the bound. */
export function aesContextCacheSize(): number {
  return encryptors.size + decryptors.size;
}
