import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CompactFormatStore, decodeTelegram, parseHex } from '../src';
import type { DecodeResult } from '../src';

/** One line of ../shared/wmbus/vectors.jsonl: a wmbusmeters driver test case and the JSON it printed. */
export interface WmbusVector {
  driver: string;
  name: string;
  telegram: string;
  /** null for the cases wmbusmeters ran without a key. */
  key: string | null;
  security_class: string;
  header: {
    frame?: string;
    declared_security?: string;
    layers?: string[];
    dll_crcs?: string | null;
    tpl_cfg?: string;
    tpl_ci?: string;
  };
  preceding_telegrams?: string[];
  expected: (Record<string, unknown> & { id?: string }) | null;
  plaintext_telegram?: string;
  decrypt_check?: string;
}

const VECTORS_FILE = path.resolve(__dirname, '../../..', '../shared/wmbus/vectors.jsonl');

/** Every vector in file order (line N of the file is element N - 1). */
export function loadVectors(): WmbusVector[] {
  return readFileSync(VECTORS_FILE, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as WmbusVector);
}

/** Set per reception or by configuration, not by the codec. */
const RECEPTION_FIELDS = new Set(['timestamp', 'device', 'rssi_dbm', 'name']);

/** The fields of a wmbusmeters JSON (or of a decode result) that the codec is responsible for. */
export function withoutReceptionFields<T>(fields: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(fields).filter(([name]) => !RECEPTION_FIELDS.has(name)));
}

/**
 * Decodes the vector's preceding telegrams, which teach their compact formats to `formats`, and then its
 * telegram, all with the vector's key.
 */
export function decodeVectorTelegrams(
  vector: Pick<WmbusVector, 'key' | 'telegram' | 'preceding_telegrams'>,
  formats = CompactFormatStore.withKnownFormats(),
): { preceding: DecodeResult[]; result: DecodeResult } {
  const key = vector.key === null ? undefined : parseHex(vector.key);
  const preceding = (vector.preceding_telegrams ?? []).map((earlier) =>
    decodeTelegram(parseHex(earlier)!, { key, formats }),
  );
  return { preceding, result: decodeTelegram(parseHex(vector.telegram)!, { key, formats }) };
}
