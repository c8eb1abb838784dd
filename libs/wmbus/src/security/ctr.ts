import { createDecipheriv } from 'node:crypto';

/**
 * AES-128-CTR as the ELL uses it. OpenSSL's CTR mode increments the whole 16-byte counter block as a
 * big-endian integer and truncates the last keystream block, which is exactly the ELL rule, so one
 * cipher call does the job. CTR is symmetric: the same function encrypts.
 */
export function aesCtr(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const cipher = createDecipheriv('aes-128-ctr', key, iv);
  const out = cipher.update(data);
  cipher.final();
  return out;
}
