import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CompactFormatStore, addFrameCrcs, decodeTelegram, encodeTelegram, toHex } from '../src';
import type { DecodeErrorCode, DecodeOptions, DecodeResult, EncodeInput } from '../src';

/**
 * Robustness fuzz of decodeTelegram: mutated conformance vectors and encoder output, random and
 * CRC-valid garbage, lying length fields and valid headers over random ciphertext, with and without
 * keys and compact formats. The decoder must never throw and must answer every input with either a
 * result or an error carrying a known code. Runs are reproducible: HES_FUZZ_SEED and HES_FUZZ_COUNT
 * override the defaults, and every failure is reported with its iteration and telegram hex.
 */
const SEED = Number(process.env.HES_FUZZ_SEED ?? 0x5eed2026);
const COUNT = Number(process.env.HES_FUZZ_COUNT ?? 200_000);

/** Every DecodeErrorCode; the Record type makes the compiler flag a code added to or removed from types.ts. */
const KNOWN_CODES: Record<DecodeErrorCode, true> = {
  BAD_INPUT: true,
  TOO_SHORT: true,
  BAD_LENGTH: true,
  BAD_CRC: true,
  BAD_C_FIELD: true,
  UNKNOWN_CI: true,
  TRUNCATED: true,
  NO_KEY: true,
  DECRYPTION_FAILED: true,
  MAC_MISMATCH: true,
  UNEXPECTED_PLAINTEXT: true,
  UNSUPPORTED_SECURITY: true,
  UNKNOWN_COMPACT_FORMAT: true,
  COMPACT_CRC_MISMATCH: true,
  BAD_RECORD: true,
};
/** decodeTelegram's last-resort catch reports an internal exception with this prefix: a bug, not an answer. */
const INTERNAL_FAILURE_PREFIX = 'decoder failure';

/** mulberry32: tiny, fast, good enough to drive mutations, and reproducible from a 32-bit seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Seed {
  telegram: Buffer;
  key?: Buffer;
}

function loadVectorSeeds(): Seed[] {
  const path = resolve(__dirname, '../../..', '../shared/wmbus/vectors.jsonl');
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { telegram: string; key: string | null })
    .map((v) => ({
      telegram: Buffer.from(v.telegram, 'hex'),
      key: v.key && /^[0-9A-Fa-f]{32}$/.test(v.key) ? Buffer.from(v.key, 'hex') : undefined,
    }));
}

const KEY = Buffer.from('4B616D73747275702D666C6F77495121', 'hex');
const KAMSTRUP_RECORDS: EncodeInput['records'] = [
  { dif: 0x02, vif: 0xff, vifes: [0x20], raw: Buffer.from('7100', 'hex') },
  { dif: 0x04, vif: 0x13, value: 6.408 },
  { dif: 0x44, vif: 0x13, value: 6.001 },
  { dif: 0x61, vif: 0x5b, value: 12 },
  { dif: 0x61, vif: 0x67, value: 19 },
];

function encoded(frame: EncodeInput['frame'], extra: Partial<EncodeInput> = {}): Buffer {
  return encodeTelegram({
    manufacturer: 'KAM',
    id: '76348799',
    version: 0x1b,
    deviceType: 0x16,
    frame,
    accessNumber: 0x42,
    records: KAMSTRUP_RECORDS,
    ...extra,
  });
}

function encoderSeeds(): Seed[] {
  const seeds: Seed[] = [];
  for (const withDllCrc of [undefined, 'A', 'B'] as const) {
    seeds.push(
      { telegram: encoded('kamstrup-full', { key: KEY, withDllCrc }), key: KEY },
      { telegram: encoded('kamstrup-compact', { key: KEY, withDllCrc }), key: KEY },
      {
        telegram: encoded('oms-mode5', { key: KEY, withDllCrc, manufacturer: 'ABC', deviceType: 0x07 }),
        key: KEY,
      },
      { telegram: encoded('plain', { withDllCrc, manufacturer: 'ABC', deviceType: 0x07 }) },
    );
  }
  return seeds;
}

/** Headers that reach the security layers: Kamstrup DLL + ELL II (17 bytes), OMS DLL + TPL short header (15 bytes). */
const ENCRYPTED_HEADERS: Array<{ header: Buffer; key: Buffer }> = [
  { header: encoded('kamstrup-full', { key: KEY }).subarray(0, 17), key: KEY },
  {
    header: encoded('oms-mode5', { key: KEY, manufacturer: 'ABC', deviceType: 0x07 }).subarray(0, 15),
    key: KEY,
  },
];

/** CI fields the decoder knows, so that CRC-valid garbage gets past the DLL more often. */
const INTERESTING_CI = [0x72, 0x78, 0x79, 0x7a, 0x7b, 0x73, 0x8c, 0x8d, 0x8e, 0x8f, 0x90, 0x86, 0xa0, 0xa2];

type Mutation = (random: () => number) => { telegram: Buffer; key?: Buffer };

describe('decodeTelegram fuzz', () => {
  it(`answers ${COUNT} hostile telegrams without throwing, each ok or with a known error code`, () => {
    const random = prng(SEED);
    const int = (n: number) => Math.floor(random() * n);
    const bytes = (n: number) => {
      const out = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) out[i] = int(256);
      return out;
    };
    const seeds = [...loadVectorSeeds(), ...encoderSeeds()];
    const pick = () => seeds[int(seeds.length)];

    const mutations: Record<string, Mutation> = {
      bitFlips: () => {
        const seed = pick();
        const telegram = Buffer.from(seed.telegram);
        for (let flips = 1 + int(8); flips > 0; flips--) telegram[int(telegram.length)] ^= 1 << int(8);
        return { telegram, key: seed.key };
      },
      truncation: () => {
        const seed = pick();
        return { telegram: Buffer.from(seed.telegram.subarray(0, int(seed.telegram.length))), key: seed.key };
      },
      lengthLie: () => {
        const seed = pick();
        const telegram = Buffer.from(seed.telegram);
        telegram[0] = random() < 0.5 ? int(256) : (telegram[0] + int(9) - 4) & 0xff;
        return { telegram, key: seed.key };
      },
      insertOrDelete: () => {
        const seed = pick();
        const at = int(seed.telegram.length + 1);
        const telegram =
          random() < 0.5
            ? Buffer.concat([seed.telegram.subarray(0, at), bytes(1 + int(4)), seed.telegram.subarray(at)])
            : Buffer.concat([seed.telegram.subarray(0, at), seed.telegram.subarray(at + 1 + int(4))]);
        return { telegram, key: seed.key };
      },
      splice: () => {
        const a = pick().telegram;
        const b = pick();
        const cut = int(a.length + 1);
        return { telegram: Buffer.concat([a.subarray(0, cut), b.telegram.subarray(cut)]), key: b.key };
      },
      randomBytes: () => ({ telegram: bytes(int(300)), key: random() < 0.3 ? KEY : undefined }),
      crcValidGarbage: () => {
        // A random stripped body (sometimes with a valid C-field and a known CI) framed with correct CRCs.
        const body = bytes(11 + int(200));
        body[0] = body.length - 1;
        if (random() < 0.8) body[1] = random() < 0.5 ? 0x44 : 0x46;
        if (random() < 0.7) body[10] = INTERESTING_CI[int(INTERESTING_CI.length)];
        return {
          telegram: addFrameCrcs(body, random() < 0.5 ? 'A' : 'B'),
          key: random() < 0.5 ? KEY : undefined,
        };
      },
      encryptedRandomPayload: () => {
        const { header, key } = ENCRYPTED_HEADERS[int(ENCRYPTED_HEADERS.length)];
        const payloadLength = random() < 0.5 ? 16 * (1 + int(8)) : int(200);
        const telegram = Buffer.concat([header, bytes(payloadLength)]);
        telegram[0] = telegram.length - 1;
        const framed = random() < 0.3 ? addFrameCrcs(telegram, random() < 0.5 ? 'A' : 'B') : telegram;
        return { telegram: framed, key: random() < 0.6 ? key : undefined };
      },
    };
    const names = Object.keys(mutations);

    let formats = CompactFormatStore.withKnownFormats();
    const failures: string[] = [];
    const perMutation: Record<string, number> = {};
    let okCount = 0;
    const started = process.hrtime.bigint();
    for (let iteration = 0; iteration < COUNT; iteration++) {
      // Garbage full frames teach garbage formats; a fresh store now and then keeps lookups realistic.
      if (iteration % 10_000 === 0) formats = CompactFormatStore.withKnownFormats();
      const name = names[iteration % names.length];
      const { telegram, key } = mutations[name](random);
      const keyMode = int(3);
      const options: DecodeOptions =
        keyMode === 0 ? {} : keyMode === 1 ? { key, formats } : { key: key && (() => key), formats };
      let result: DecodeResult | undefined;
      let problem: string | undefined;
      try {
        result = decodeTelegram(telegram, options);
        if (result.ok) {
          if (result.error) problem = 'ok result carries an error';
          else if (!result.header) problem = 'ok result without a header';
        } else if (!result.error || !KNOWN_CODES[result.error.code]) {
          problem = `unknown error ${JSON.stringify(result.error)}`;
        } else if (result.error.message.startsWith(INTERNAL_FAILURE_PREFIX)) {
          problem = `internal exception: ${result.error.message}`;
        }
      } catch (error) {
        problem = `threw ${(error as Error).stack ?? String(error)}`;
      }
      if (result?.ok) okCount++;
      perMutation[name] = (perMutation[name] ?? 0) + 1;
      if (problem && failures.length < 10) {
        failures.push(
          `seed ${SEED} iteration ${iteration} (${name}, key mode ${keyMode}): ${problem}\n  ${toHex(telegram)}`,
        );
      }
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(
      `fuzz: ${COUNT} telegrams in ${seconds.toFixed(2)} s (${Math.round(COUNT / seconds)}/s), ` +
        `${okCount} decoded ok, seed ${SEED}; per mutation ${JSON.stringify(perMutation)}`,
    );
    expect(failures).toEqual([]);
    // Sanity: the corpus is not all rejected at the first byte, so the deeper layers were exercised.
    expect(okCount).toBeGreaterThan(COUNT / 50);
  });
});
