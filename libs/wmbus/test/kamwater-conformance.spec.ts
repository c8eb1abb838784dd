import { CompactFormatStore, decodeTelegram, headerFields, parseHex } from '../src';
import type { DecodeResult, FieldValue } from '../src';
import { decodeVectorTelegrams, loadVectors, withoutReceptionFields } from './vectors';
import type { WmbusVector } from './vectors';

/**
 * Every kamwater vector of ../shared/wmbus/vectors.jsonl through the whole decoder (framing, ELL,
 * AES-CTR, compact formats, records, driver) compared field for field with wmbusmeters' JSON.
 */

/** wmbusmeters printed a JSON object for every kamwater case, the analyze-only one included. */
type KamwaterVector = Omit<WmbusVector, 'expected'> & { expected: Record<string, FieldValue> };

const kamwaterVectors = loadVectors().filter((v) => v.driver === 'kamwater') as KamwaterVector[];

/**
 * The JSON wmbusmeters would print for this telegram. A meter keeps its last values (spec §8 "State"),
 * so fields of preceding telegrams carry over. A telegram that cannot be decoded yields only the
 * header fields, as `wmbusmeters --analyze` prints them: that is what the decoder returns then.
 */
function meterJson(vector: KamwaterVector): { result: DecodeResult; json: Record<string, FieldValue> } {
  const { preceding, result } = decodeVectorTelegrams(vector);
  const state: Record<string, FieldValue> = {};
  for (const previous of preceding) if (previous.ok) Object.assign(state, previous.fields);
  return { result, json: result.ok ? { ...state, ...result.fields } : result.fields };
}

function label(vector: KamwaterVector): string {
  return `${vector.name || '(analyze)'} ${vector.security_class} CI ${vector.header.tpl_ci ?? 'encrypted'}`;
}

describe('kamwater conformance (wmbusmeters vectors)', () => {
  it('has the 11 kamwater vectors', () => {
    expect(kamwaterVectors).toHaveLength(11);
  });

  it.each(kamwaterVectors.map((v) => [label(v), v] as const))('%s', (_label, vector) => {
    const { result, json } = meterJson(vector);
    expect(withoutReceptionFields(json)).toEqual(withoutReceptionFields(vector.expected));
    if (vector.security_class === 'nokey_still_encrypted') {
      expect(result.ok).toBe(false);
      expect(result.error?.code).toBe('NO_KEY');
      expect(result.fields).toEqual(headerFields(result.header!, 'kamwater'));
      expect(result.records).toEqual([]);
    } else {
      expect(result.ok).toBe(true);
      expect(result.driver).toBe('kamwater');
    }
  });

  it('summary', () => {
    const rows = kamwaterVectors.map((vector) => {
      const { result, json } = meterJson(vector);
      const expected = withoutReceptionFields(vector.expected);
      const actual = withoutReceptionFields(json);
      const names = Object.keys(expected);
      const matching = names.filter(
        (name) => JSON.stringify(actual[name]) === JSON.stringify(expected[name]),
      );
      const extra = Object.keys(actual).filter((name) => !(name in expected));
      return {
        vector: vector.name || '(analyze)',
        id: String(expected.id),
        ci: vector.header.tpl_ci ?? '—',
        security: result.security,
        decoded: result.ok ? 'ok' : (result.error?.code ?? 'failed'),
        fields: `${matching.length}/${names.length}`,
        extra: extra.length,
        status: String(actual.status ?? ''),
      };
    });
    console.table(rows);
    expect(
      rows.every((row) => row.fields.split('/')[0] === row.fields.split('/')[1] && row.extra === 0),
    ).toBe(true);
  });
});

describe('compact formats learned from full frames', () => {
  const FULL = '2A442D2C998734761B168D2091D37CAC21576C7802FF207100041308190000441308190000615B7F616713';
  const COMPACT = '23442D2C998734761B168D2087D19EAD217F1779EDA86AB6710008190000081900007F13';
  const KEY = '28F64A24988064A079AA2C807D6102AE';
  const ENCRYPTED_FULL =
    '2A442D2C998734761B168D2091D37CAC21E1D68CDAFFCD3DC452BD802913FF7B1706CA9E355D6C2701CC24';
  const ENCRYPTED_COMPACT = '23442D2C998734761B168D20983081B2227A6FA1F10E1B79B5EB4B17E81F930E937EE06C';

  it('a compact frame waits for its format, then decodes after the full frame taught it', () => {
    const formats = new CompactFormatStore();
    const learned: string[] = [];
    formats.onLearned((entry) => learned.push(`${entry.manufacturer}/${entry.deviceType}/${entry.format}`));

    const before = decodeTelegram(parseHex(COMPACT) as Buffer, { formats });
    expect(before.ok).toBe(false);
    expect(before.error?.code).toBe('UNKNOWN_COMPACT_FORMAT');

    expect(decodeTelegram(parseHex(FULL) as Buffer, { formats }).ok).toBe(true);
    expect(learned).toEqual(['KAM/22/02FF2004134413615B6167']);

    const after = decodeTelegram(parseHex(COMPACT) as Buffer, { formats });
    expect(after.ok).toBe(true);
    expect(after.fields).toMatchObject({
      total_m3: 6.408,
      target_m3: 6.408,
      status: 'DRY',
      time_dry: '22-31 days',
    });
  });

  it('learning works through AES-CTR: the encrypted full frame teaches the encrypted compact frame', () => {
    const formats = new CompactFormatStore();
    const key = parseHex(KEY) as Buffer;
    expect(decodeTelegram(parseHex(ENCRYPTED_COMPACT) as Buffer, { key, formats }).error?.code).toBe(
      'UNKNOWN_COMPACT_FORMAT',
    );
    expect(decodeTelegram(parseHex(ENCRYPTED_FULL) as Buffer, { key, formats }).ok).toBe(true);
    const compact = decodeTelegram(parseHex(ENCRYPTED_COMPACT) as Buffer, { key, formats });
    expect(compact.ok).toBe(true);
    expect(compact.fields).toMatchObject({ total_m3: 6.409, min_external_temperature_last_month_c: 22 });
  });

  it('a format learned from one meter type does not decode another type', () => {
    const formats = new CompactFormatStore();
    decodeTelegram(parseHex(FULL) as Buffer, { formats });
    // Same compact frame, device type byte changed from 0x16 (cold) to 0x06 (warm water).
    const warm = parseHex(COMPACT) as Buffer;
    warm[9] = 0x06;
    expect(decodeTelegram(warm, { formats }).error?.code).toBe('UNKNOWN_COMPACT_FORMAT');
  });
});
