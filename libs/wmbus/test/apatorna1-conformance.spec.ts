import { decodeTelegram, headerFields, parseHex, readingsOf } from '../src';
import type { FieldValue } from '../src';
import { decodeVectorTelegrams, loadVectors, withoutReceptionFields } from './vectors';
import type { WmbusVector } from './vectors';

/**
 * Every apatorna1 (Apator NA-1, manufacturer-specific CI 0xA0/0xA1 with an AES-CBC block) vector of
 * ../shared/wmbus/vectors.jsonl through the whole decoder, compared field for field with wmbusmeters' JSON.
 */

type Apatorna1Vector = Omit<WmbusVector, 'expected' | 'key'> & {
  expected: Record<string, FieldValue>;
  key: string;
};

const apatorna1Vectors = loadVectors().filter((v) => v.driver === 'apatorna1') as Apatorna1Vector[];

function label(vector: Apatorna1Vector): string {
  return `${vector.name} CI ${vector.header.tpl_ci} ${vector.telegram.slice(22, 26)}`;
}

describe('apatorna1 conformance (wmbusmeters vectors)', () => {
  it('has the 10 keyed apatorna1 vectors', () => {
    expect(apatorna1Vectors).toHaveLength(10);
    for (const vector of apatorna1Vectors) expect(vector.security_class).toBe('aes_with_key_mfct_payload');
  });

  it.each(apatorna1Vectors.map((v) => [label(v), v] as const))('%s', (_label, vector) => {
    const { result } = decodeVectorTelegrams(vector);
    expect(result.error).toBeUndefined();
    expect(result.driver).toBe('apatorna1');
    expect(result.security).toBe('mfct-aes-cbc');
    // The operator's meter name is not the codec's to know (the caller fills it in).
    expect(withoutReceptionFields({ ...result.fields, name: vector.expected.name })).toEqual(
      withoutReceptionFields(vector.expected),
    );
    const readings = readingsOf(result.header!, result.records);
    expect(readings.map((r) => [r.name, r.unit, r.value])).toEqual([
      ['total_m3', 'm3', vector.expected.total_m3],
      ['historic_m3', 'm3', vector.expected.historic_m3],
      ['historic_age_h', 'h', vector.expected.historic_age_h],
    ]);
  });

  it('rejects every vector under a wrong key as DECRYPTION_FAILED, with header fields only', () => {
    const wrongKey = Buffer.alloc(16, 0xa5);
    for (const vector of apatorna1Vectors) {
      const result = decodeTelegram(parseHex(vector.telegram)!, { key: wrongKey });
      expect(result.ok).toBe(false);
      expect(result.error?.code).toBe('DECRYPTION_FAILED');
      expect(result.error?.message).toBe(
        `wrong key or corrupt telegram for meter ${String(vector.expected.id)}`,
      );
      expect(result.records).toEqual([]);
      expect(result.fields).toEqual(headerFields(result.header!, 'apatorna1'));
    }
  });

  it('reports NO_KEY without a key, and TRUNCATED for a payload shorter than the encrypted block', () => {
    const vector = apatorna1Vectors[0];
    const telegram = parseHex(vector.telegram)!;
    const noKey = decodeTelegram(telegram);
    expect(noKey.error?.code).toBe('NO_KEY');
    expect(noKey.records).toEqual([]);

    const short = Buffer.from(telegram.subarray(0, telegram.length - 1));
    short[0] = short.length - 1;
    const truncated = decodeTelegram(short, { key: parseHex(vector.key)! });
    expect(truncated.error?.code).toBe('TRUNCATED');
  });

  it('detects a corrupted ciphertext as DECRYPTION_FAILED', () => {
    const vector = apatorna1Vectors[0];
    const telegram = parseHex(vector.telegram)!;
    // Flipping a bit of the single CBC block scrambles all 16 plaintext bytes, the 0x2F marker included
    // (this particular flip is checked not to reproduce 0x2F by chance).
    telegram[13] ^= 0x01;
    const result = decodeTelegram(telegram, { key: parseHex(vector.key)! });
    expect(result.error?.code).toBe('DECRYPTION_FAILED');
  });
});
