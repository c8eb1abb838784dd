import { createCipheriv } from 'node:crypto';
import { parseHex } from '../hex';
import { ellCtrIv } from '../ell';
import { aesCtr } from './ctr';
import { AES_CONTEXT_CACHE_SIZE, aesContextCacheSize } from './aes-ecb-cache';
import { aesCbcDecryptWithMeterKey, cbcDecrypt, cbcEncrypt } from './cbc';
import { aesCmac, deriveMode7Key } from './cmac-kdf';
import { diehlLfsrDecode } from './diehl';

describe('AES-CMAC (RFC 4493 test vectors)', () => {
  const key = Buffer.from('2b7e151628aed2a6abf7158809cf4f3c', 'hex');
  const message = Buffer.from(
    '6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710',
    'hex',
  );
  it.each([
    [0, 'bb1d6929e95937287fa37d129b756746'],
    [16, '070a16b46b4d4144f79bdd9dd04a287c'],
    [40, 'dfa66747de9ae63030ca32611497c827'],
    [64, '51f0bebf7e3b9d92fc49741779363cfe'],
  ])('MAC of the first %i bytes', (length, expected) => {
    expect(aesCmac(key, message.subarray(0, length)).toString('hex')).toBe(expected);
  });
});

describe('ELL AES-CTR (spec §4.3 worked example)', () => {
  const telegram = parseHex(
    '2A442D2C998734761B168D2091D37CAC21E1D68CDAFFCD3DC452BD802913FF7B1706CA9E355D6C2701CC24',
  )!;
  const key = parseHex('28F64A24988064A079AA2C807D6102AE')!;

  it('builds the initial counter block from DLL M/A, CC and SN', () => {
    expect(ellCtrIv(telegram, 0x20, 13).toString('hex').toUpperCase()).toBe(
      '2D2C998734761B1620D37CAC21000000',
    );
  });

  it('decrypts to payload CRC 576C, CI 78 and the 02FF20 record', () => {
    const plain = aesCtr(key, ellCtrIv(telegram, 0x20, 13), telegram.subarray(17));
    expect(plain.toString('hex').toUpperCase()).toBe('576C7802FF207100041308190000441308190000615B7F616713');
  });

  it('clears the hop and repeated-access bits of CC in the counter block', () => {
    expect(ellCtrIv(telegram, 0x32, 13)[8]).toBe(0x20);
  });
});

describe('CBC', () => {
  it('round-trips AES-128 and single-DES (8-byte key) blocks', () => {
    const iv = Buffer.alloc(16, 7);
    const data = Buffer.alloc(32, 0x2f);
    const aesKey = Buffer.alloc(16, 1);
    expect(cbcDecrypt(aesKey, iv, cbcEncrypt(aesKey, iv, data))).toEqual(data);
    const desKey = Buffer.from('0102030405060708', 'hex');
    const desIv = Buffer.alloc(8);
    expect(cbcDecrypt(desKey, desIv, cbcEncrypt(desKey, desIv, data))).toEqual(data);
    expect(() => cbcDecrypt(Buffer.alloc(12), iv, data)).toThrow(RangeError);
  });

  it('decrypts the actislink DES mode-2 vector to 2F2F 0413 E8030000 (1 m³)', () => {
    const telegram = parseHex('1E468B050100000004077A01001002BBD1EAFD0222F871CB70DA16C78AE098')!;
    const plain = cbcDecrypt(Buffer.from('0102030405060708', 'hex'), Buffer.alloc(8), telegram.subarray(15));
    expect(plain.subarray(0, 8).toString('hex')).toBe('2f2f0413e8030000');
  });
});

describe('mode-7 KDF', () => {
  it('puts constant, counter, id and the 07 padding into the CMAC input', () => {
    const master = Buffer.alloc(16, 0x11);
    const counter = Buffer.from('895E0200', 'hex');
    const id = Buffer.from('04430543', 'hex');
    const expectedInput = Buffer.from('00895E02000443054307070707070707', 'hex');
    expect(deriveMode7Key(master, 0, counter, id)).toEqual(aesCmac(master, expectedInput));
    expect(deriveMode7Key(master, 1, counter, id)).not.toEqual(deriveMode7Key(master, 0, counter, id));
  });
});

describe('Diehl LFSR', () => {
  it('descrambles the sharky real-data vector with a default key into records (0C0E / 0406 …)', () => {
    const frame = parseHex(
      '534424232004256092687A370045752235854DEEEA5939FAD81C25FEEF5A23C38FB9168493C563F08DB10BAF87F660FBA91296BA2397E8F4220B86D3A192FB51E0BFCF24DCE72118E0C75A9E89F43BDFE370824B',
    )!;
    const plain = diehlLfsrDecode(frame);
    expect(plain).toBeDefined();
    expect(plain!.length).toBe(frame.length - 15);
  });

  it('returns undefined when the checksum does not hold', () => {
    const frame = parseHex('1E4424238B07797389607A8F00107D041312170100426CBF23441344100100')!;
    expect(diehlLfsrDecode(frame)).toBeUndefined();
  });
});

describe('aesCtr against OpenSSL AES-128-CTR', () => {
  it('matches for partial blocks and a counter that carries across bytes', () => {
    const key = Buffer.alloc(16, 0x3c);
    const iv = Buffer.from('000102030405060708090a0bfffffffe', 'hex');
    for (const length of [1, 15, 16, 17, 40, 64, 100]) {
      const data = Buffer.alloc(length, 0xa7);
      const reference = createCipheriv('aes-128-ctr', key, iv).update(data);
      expect(aesCtr(key, iv, data)).toEqual(reference);
      expect(aesCtr(key, iv, data)).toEqual(reference);
    }
  });
});

describe('per-key cached AES contexts', () => {
  const telegram = parseHex(
    '2A442D2C998734761B168D2091D37CAC21E1D68CDAFFCD3DC452BD802913FF7B1706CA9E355D6C2701CC24',
  )!;
  const iv = ellCtrIv(telegram, 0x20, 13);
  const payload = telegram.subarray(17);
  const expected = '576C7802FF207100041308190000441308190000615B7F616713';

  it('follows the key bytes, not the Buffer object: a key Buffer rewritten in place decrypts with its new bytes', () => {
    const key = parseHex('28F64A24988064A079AA2C807D6102AE')!;
    expect(aesCtr(key, iv, payload).toString('hex').toUpperCase()).toBe(expected);
    const original = Buffer.from(key);
    key.fill(0x11);
    expect(aesCtr(key, iv, payload).toString('hex').toUpperCase()).not.toBe(expected);
    original.copy(key);
    expect(aesCtr(Buffer.from(key), iv, payload).toString('hex').toUpperCase()).toBe(expected);
  });

  it('CBC from the cached ECB context equals node:crypto CBC, and the cache stays bounded', () => {
    const data = Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37) & 0xff));
    const ivCbc = Buffer.from(Array.from({ length: 16 }, (_, i) => i * 3));
    for (let n = 0; n < AES_CONTEXT_CACHE_SIZE + 50; n++) {
      const key = Buffer.alloc(16);
      key.writeUInt32BE(n, 0);
      if (n % 997 === 0)
        expect(aesCbcDecryptWithMeterKey(key, ivCbc, data)).toEqual(cbcDecrypt(key, ivCbc, data));
      else aesCbcDecryptWithMeterKey(key, ivCbc, data);
    }
    expect(aesContextCacheSize()).toBeLessThanOrEqual(2 * AES_CONTEXT_CACHE_SIZE);
    const key = Buffer.alloc(16, 0x5c);
    expect(aesCbcDecryptWithMeterKey(key, ivCbc, data.subarray(0, 16))).toEqual(
      cbcDecrypt(key, ivCbc, data.subarray(0, 16)),
    );
  });
});
