import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CompactFormatStore, decodeTelegram, parseHex } from '../src';
import type { DecodeResult } from '../src';

/**
 * Whole-suite conformance against the wmbusmeters vectors (../shared/wmbus/vectors.jsonl):
 * every case decodes without error, and every case with a key decrypts and verifies.
 */

interface Vector {
  driver: string;
  name: string;
  telegram: string;
  key: string | null;
  security_class: string;
  header: { frame: string; declared_security?: string; layers?: string[] };
  preceding_telegrams?: string[];
  plaintext_telegram?: string;
  decrypt_check?: string;
}

const VECTORS_FILE = path.resolve(__dirname, '../../..', '../shared/wmbus/vectors.jsonl');
const vectors: Vector[] = readFileSync(VECTORS_FILE, 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as Vector);

/**
 * Cases that cannot decode, and why. Keyed by driver/name/security class: the kamwater telegram is
 * the real AES-CTR frame analysed WITHOUT its key — wmbusmeters also prints only header fields.
 */
const EXPECTED_FAILURES: Record<string, { code: string; reason: string }> = {
  'kamwater//nokey_still_encrypted': {
    code: 'NO_KEY',
    reason: 'encrypted Kamstrup frame given without its key: only the header can be read',
  },
};

function label(v: Vector): string {
  return `${v.driver}/${v.name}/${v.security_class}`;
}

function decodeVector(v: Vector): DecodeResult {
  const key = v.key ? parseHex(v.key) : undefined;
  const formats = CompactFormatStore.withKnownFormats();
  for (const earlier of v.preceding_telegrams ?? []) {
    decodeTelegram(parseHex(earlier)!, { key, formats });
  }
  return decodeTelegram(parseHex(v.telegram)!, { key, formats });
}

describe('wmbusmeters conformance vectors', () => {
  it('loads all 408 vectors', () => {
    expect(vectors).toHaveLength(408);
  });

  it('decodes every case without error (except the listed ones, with the listed error)', () => {
    const unexpected: string[] = [];
    for (const v of vectors) {
      const result = decodeVector(v);
      const expectedFailure = EXPECTED_FAILURES[label(v)];
      if (expectedFailure) {
        if (result.ok || result.error?.code !== expectedFailure.code) {
          unexpected.push(`${label(v)}: expected ${expectedFailure.code}, got ${result.error?.code ?? 'ok'}`);
        }
        continue;
      }
      if (!result.ok) unexpected.push(`${label(v)}: ${result.error?.code} ${result.error?.message}`);
    }
    expect(unexpected).toEqual([]);
  });

  it('identifies the meter as wmbusmeters does', () => {
    const mismatches: string[] = [];
    for (const v of vectors) {
      const expectedId = (JSON.parse(JSON.stringify(v)) as { expected: { id?: string } | null }).expected?.id;
      const result = decodeVector(v);
      if (expectedId && result.header && result.header.id !== expectedId.toLowerCase()) {
        mismatches.push(`${label(v)}: ${result.header.id} != ${expectedId}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  const keyed = vectors.filter((v) => v.key !== null);

  it.each(keyed.map((v) => [label(v), v] as const))('%s decrypts and verifies with its key', (_label, v) => {
    const result = decodeVector(v);
    expect(result.error).toBeUndefined();
    expect(result.ok).toBe(true);
    if (v.plaintext_telegram) {
      // The decrypted telegram must carry exactly the records of the known plaintext.
      expect(result.security).not.toBe('none');
      const plain = decodeTelegram(parseHex(v.plaintext_telegram)!, {
        formats: CompactFormatStore.withKnownFormats(),
      });
      expect(plain.ok).toBe(true);
      expect(result.records.map((r) => [r.key, r.value])).toEqual(plain.records.map((r) => [r.key, r.value]));
      expect(result.records.length).toBeGreaterThan(0);
    }
  });

  it('rejects every keyed encrypted case under a wrong key, naming the meter and producing no records', () => {
    const wrongKey = Buffer.alloc(16, 0xa5);
    for (const v of keyed.filter((k) => k.plaintext_telegram)) {
      const result = decodeTelegram(parseHex(v.telegram)!, {
        key: wrongKey,
        formats: CompactFormatStore.withKnownFormats(),
      });
      expect(result.ok).toBe(false);
      expect(['DECRYPTION_FAILED', 'MAC_MISMATCH']).toContain(result.error?.code);
      expect(result.error?.message).toContain('wrong key or corrupt telegram for meter');
      expect(result.records).toEqual([]);
      expect(result.fields).toEqual({});
    }
  });
});
