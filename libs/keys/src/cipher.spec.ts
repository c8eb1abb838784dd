import { MeterKeyCipher, MeterKeyDecryptionError, MeterKeyFormatError, parseMasterKey } from './cipher';

const master = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const meterKey = Buffer.from('51728910E66D83F851728910E66D83F8', 'hex');

describe('MeterKeyCipher', () => {
  const cipher = new MeterKeyCipher(master);

  it('round-trips a 16-byte key and uses a fresh 12-byte IV per encryption', () => {
    const a = cipher.encrypt('12345678', meterKey);
    const b = cipher.encrypt('12345678', meterKey);
    expect(a.iv).toHaveLength(12);
    expect(a.tag).toHaveLength(16);
    expect(a.ciphertext).toHaveLength(16);
    expect(a.iv.equals(b.iv)).toBe(false);
    expect(a.ciphertext.equals(meterKey)).toBe(false);
    expect(cipher.decrypt('12345678', a).equals(meterKey)).toBe(true);
    expect(cipher.decrypt('12345678', b).equals(meterKey)).toBe(true);
  });

  it('rejects a flipped ciphertext bit, a changed tag or IV', () => {
    const record = cipher.encrypt('12345678', meterKey);
    const flipped = Buffer.from(record.ciphertext);
    flipped[3] ^= 0x01;
    expect(() => cipher.decrypt('12345678', { ...record, ciphertext: flipped })).toThrow(
      MeterKeyDecryptionError,
    );
    const tag = Buffer.from(record.tag);
    tag[0] ^= 0x80;
    expect(() => cipher.decrypt('12345678', { ...record, tag })).toThrow(MeterKeyDecryptionError);
    const iv = Buffer.from(record.iv);
    iv[11] ^= 0x01;
    expect(() => cipher.decrypt('12345678', { ...record, iv })).toThrow(MeterKeyDecryptionError);
  });

  it('binds the ciphertext to its meter id (AAD): moving it to another meter fails', () => {
    const record = cipher.encrypt('12345678', meterKey);
    expect(() => cipher.decrypt('12345679', record)).toThrow(
      /meter key of meter 12345679 cannot be decrypted: wrong master key, tampered record/,
    );
  });

  it('fails under a different master key and never puts key bytes in the message', () => {
    const record = cipher.encrypt('12345678', meterKey);
    const other = new MeterKeyCipher(Buffer.alloc(32, 7));
    let message = '';
    try {
      other.decrypt('12345678', record);
    } catch (error) {
      expect(error).toBeInstanceOf(MeterKeyDecryptionError);
      message = (error as Error).message;
    }
    expect(message).toContain('12345678');
    expect(message.toLowerCase()).not.toContain(meterKey.toString('hex').toLowerCase());
    expect(message.toLowerCase()).not.toContain(master.toString('hex'));
  });

  it('gives a stable 16-hex-char fingerprint that depends on the master key and is not a plain hash', () => {
    const fp = cipher.fingerprint(meterKey);
    expect(fp).toMatch(/^[0-9a-f]{16}$/);
    expect(new MeterKeyCipher(Buffer.from(master)).fingerprint(meterKey)).toBe(fp);
    expect(cipher.encrypt('12345678', meterKey).fingerprint).toBe(fp);
    expect(new MeterKeyCipher(Buffer.alloc(32, 1)).fingerprint(meterKey)).not.toBe(fp);
    const otherKey = Buffer.from(meterKey);
    otherKey[15] ^= 1;
    expect(cipher.fingerprint(otherKey)).not.toBe(fp);
    const { createHash } = jest.requireActual<typeof import('node:crypto')>('node:crypto');
    expect(createHash('sha256').update(meterKey).digest('hex').startsWith(fp)).toBe(false);
  });

  it('validates lengths with format errors', () => {
    expect(() => new MeterKeyCipher(Buffer.alloc(16))).toThrow(MeterKeyFormatError);
    expect(() => cipher.encrypt('1', Buffer.alloc(15))).toThrow('meter key must be 16 bytes, got 15');
    expect(() => parseMasterKey('zz')).toThrow('master key must be 64 hex characters');
    expect(parseMasterKey(master.toString('hex').toUpperCase()).equals(master)).toBe(true);
  });
});
