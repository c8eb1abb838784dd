import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/** A meter key as stored at rest: AES-256-GCM ciphertext with its IV and tag, plus a non-secret fingerprint. */
export interface EncryptedMeterKey {
  ciphertext: Buffer;
  iv: Buffer;
  tag: Buffer;
  fingerprint: string;
}

export const MASTER_KEY_BYTES = 32;
export const METER_KEY_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Decryption failed: wrong master key, altered ciphertext/IV/tag, or a record moved to another meter. */
export class MeterKeyDecryptionError extends Error {
  constructor(readonly meterId: string) {
    super(
      `meter key of meter ${meterId} cannot be decrypted: wrong master key, tampered record, or record belongs to another meter`,
    );
    this.name = 'MeterKeyDecryptionError';
  }
}

/** The input to the cipher is not usable (wrong lengths); the message never includes key material. */
export class MeterKeyFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MeterKeyFormatError';
  }
}

/**
 * Parses a master key given as 64 hex characters (the HES_MASTER_KEY format).
 * The error deliberately does not echo the input.
 */
export function parseMasterKey(hex: string): Buffer {
  const trimmed = hex.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(trimmed)) {
    throw new MeterKeyFormatError(`master key must be ${MASTER_KEY_BYTES * 2} hex characters`);
  }
  return Buffer.from(trimmed, 'hex');
}

/**
 * Encrypts 16-byte meter keys (AES-128 keys of wM-Bus/DLMS meters) under a 32-byte master key.
 *
 * Two subkeys are derived from the master key with HKDF-SHA256 so that the encryption key and the
 * fingerprint key are never the same bytes (key separation):
 * - AES-256-GCM with a random 12-byte IV per record and AAD = the meter id, so a ciphertext copied onto
 *   another meter's row fails authentication instead of silently decrypting;
 * - fingerprint = first 8 bytes of HMAC-SHA256(fingerprint subkey, meter key), hex. It lets operators
 *   compare keys across systems without the fingerprint being a dictionary-attackable plain hash.
 */
export class MeterKeyCipher {
  readonly #encryptionKey: Buffer;
  readonly #fingerprintKey: Buffer;

  constructor(masterKey: Buffer) {
    if (masterKey.length !== MASTER_KEY_BYTES) {
      throw new MeterKeyFormatError(`master key must be ${MASTER_KEY_BYTES} bytes, got ${masterKey.length}`);
    }
    this.#encryptionKey = Buffer.from(
      hkdfSync('sha256', masterKey, Buffer.alloc(0), 'hes meter-key encryption v1', 32),
    );
    this.#fingerprintKey = Buffer.from(
      hkdfSync('sha256', masterKey, Buffer.alloc(0), 'hes meter-key fingerprint v1', 32),
    );
  }

  encrypt(meterId: string, meterKey: Buffer): EncryptedMeterKey {
    checkMeterKeyLength(meterKey);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#encryptionKey, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(meterId, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(meterKey), cipher.final()]);
    return { ciphertext, iv, tag: cipher.getAuthTag(), fingerprint: this.fingerprint(meterKey) };
  }

  decrypt(meterId: string, record: Pick<EncryptedMeterKey, 'ciphertext' | 'iv' | 'tag'>): Buffer {
    if (record.iv.length !== IV_BYTES || record.tag.length !== TAG_BYTES) {
      throw new MeterKeyDecryptionError(meterId);
    }
    const decipher = createDecipheriv('aes-256-gcm', this.#encryptionKey, record.iv, {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(meterId, 'utf8'));
    decipher.setAuthTag(record.tag);
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([decipher.update(record.ciphertext), decipher.final()]);
    } catch {
      throw new MeterKeyDecryptionError(meterId);
    }
    if (plaintext.length !== METER_KEY_BYTES) {
      plaintext.fill(0);
      throw new MeterKeyDecryptionError(meterId);
    }
    return plaintext;
  }

  fingerprint(meterKey: Buffer): string {
    checkMeterKeyLength(meterKey);
    return createHmac('sha256', this.#fingerprintKey)
      .update(meterKey)
      .digest()
      .subarray(0, 8)
      .toString('hex');
  }
}

function checkMeterKeyLength(meterKey: Buffer): void {
  if (meterKey.length !== METER_KEY_BYTES) {
    throw new MeterKeyFormatError(`meter key must be ${METER_KEY_BYTES} bytes, got ${meterKey.length}`);
  }
}
