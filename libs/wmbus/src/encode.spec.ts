import { CompactFormatStore } from './compact';
import { decodeTelegram } from './decode';
import { encodeTelegram } from './encode';
import { stripFrame } from './frame';
import type { EncodeInput } from './encode';

const KEY = Buffer.from('000102030405060708090A0B0C0D0E0F', 'hex');

const KAMSTRUP_RECORDS: EncodeInput['records'] = [
  { dif: 0x02, vif: 0xff, vifes: [0x20], raw: Buffer.from('7100', 'hex') },
  { dif: 0x04, vif: 0x13, value: 6.408 },
  { dif: 0x44, vif: 0x13, value: 6.001 },
  { dif: 0x61, vif: 0x5b, value: 12 },
  { dif: 0x61, vif: 0x67, value: 19 },
];

function input(frame: EncodeInput['frame'], extra: Partial<EncodeInput> = {}): EncodeInput {
  return {
    manufacturer: 'KAM',
    id: '76348799',
    version: 0x1b,
    deviceType: 0x16,
    frame,
    accessNumber: 0x91,
    records: KAMSTRUP_RECORDS,
    ...extra,
  };
}

function values(result: ReturnType<typeof decodeTelegram>): Array<[string, unknown]> {
  return result.records.map((r) => [r.key, r.value]);
}

const EXPECTED: Array<[string, unknown]> = [
  ['02FF20', 113],
  ['0413', 6.408],
  ['4413', 6.001],
  ['615B', 12],
  ['6167', 19],
];

describe('encodeTelegram round trips through decodeTelegram', () => {
  it.each([undefined, 'A', 'B'] as const)('Kamstrup full frame, AES-CTR, DLL CRC %s', (withDllCrc) => {
    const telegram = encodeTelegram(input('kamstrup-full', { key: KEY, withDllCrc, sessionNumber: 0x1acd3 }));
    const result = decodeTelegram(telegram, { key: KEY });
    expect(result.ok).toBe(true);
    expect(result.security).toBe('ell-aes-ctr');
    expect(result.frameFormat).toBe(withDllCrc ?? 'none');
    expect(result.header).toMatchObject({
      manufacturer: 'KAM',
      id: '76348799',
      version: 0x1b,
      deviceType: 0x16,
    });
    expect(result.header?.ell).toMatchObject({ acc: 0x91, sessionNumber: 0x2001acd3, encryption: 1 });
    expect(values(result)).toEqual(EXPECTED);
    expect(result.fields.total_m3).toBe(6.408);
  });

  it('Kamstrup compact frame decodes after the full frame taught its format', () => {
    const store = new CompactFormatStore();
    const compact = encodeTelegram(input('kamstrup-compact', { key: KEY }));
    expect(decodeTelegram(compact, { key: KEY, formats: store }).error?.code).toBe('UNKNOWN_COMPACT_FORMAT');
    expect(
      decodeTelegram(encodeTelegram(input('kamstrup-full', { key: KEY })), { key: KEY, formats: store }).ok,
    ).toBe(true);
    const result = decodeTelegram(compact, { key: KEY, formats: store });
    expect(result.ok).toBe(true);
    expect(result.header?.tpl?.ci).toBe(0x79);
    expect(values(result)).toEqual(EXPECTED);
    // The compact frame is shorter: data only.
    expect(compact.length).toBeLessThan(encodeTelegram(input('kamstrup-full', { key: KEY })).length);
  });

  it('Kamstrup compact frame uses the built-in signature A8ED for the standard MULTICAL 21 records', () => {
    const compact = encodeTelegram(input('kamstrup-compact'));
    expect(compact.readUInt16LE(20)).toBe(0xa8ed);
    expect(decodeTelegram(compact, { formats: CompactFormatStore.withKnownFormats() }).ok).toBe(true);
  });

  it('Kamstrup frame without key is plaintext with a valid ELL CRC', () => {
    const result = decodeTelegram(encodeTelegram(input('kamstrup-full')));
    expect(result.ok).toBe(true);
    expect(result.header?.ell?.encryption).toBe(0);
    expect(values(result)).toEqual(EXPECTED);
  });

  it.each([undefined, 'A', 'B'] as const)('OMS mode 5, DLL CRC %s', (withDllCrc) => {
    const telegram = encodeTelegram(
      input('oms-mode5', { key: KEY, withDllCrc, manufacturer: 'APA', deviceType: 7 }),
    );
    const result = decodeTelegram(telegram, { key: KEY });
    expect(result.ok).toBe(true);
    expect(result.security).toBe('mode-5');
    expect(result.header?.tpl).toMatchObject({ ci: 0x7a, acc: 0x91, encryptedBlocks: 2 });
    expect(values(result)).toEqual(EXPECTED);
    expect(decodeTelegram(telegram, { key: Buffer.alloc(16) }).error?.code).toBe('DECRYPTION_FAILED');
  });

  it('plain telegram', () => {
    const result = decodeTelegram(encodeTelegram(input('plain', { deviceType: 7 })));
    expect(result.ok).toBe(true);
    expect(result.security).toBe('none');
    expect(result.header?.medium).toBe('water');
    expect(values(result)).toEqual(EXPECTED);
  });

  it('rejects input it cannot encode', () => {
    expect(() => encodeTelegram(input('kamstrup-full', { key: Buffer.alloc(8) }))).toThrow(RangeError);
    expect(() => encodeTelegram(input('oms-mode5'))).toThrow('needs a key');
    expect(() => encodeTelegram(input('plain', { id: '1234' }))).toThrow(RangeError);
    expect(() => encodeTelegram(input('plain', { accessNumber: 256 }))).toThrow(RangeError);
    expect(() => encodeTelegram(input('kamstrup-full', { sessionNumber: 2 ** 29 }))).toThrow(RangeError);
    const huge = Array.from({ length: 60 }, () => ({ dif: 0x04, vif: 0x13, value: 1 }));
    expect(() => encodeTelegram(input('plain', { records: huge }))).toThrow('at most 256');
  });
});

describe('decodeTelegram on a stripped telegram that looks like format B', () => {
  /**
   * The first session number whose stripped compact telegram ends in bytes that equal the format-B CRC of
   * the rest: found by search (about 1 in 65,536), deterministic because the encoder is.
   */
  function ambiguousTelegram(): Buffer {
    for (let session = 0; session < 2_000_000; session++) {
      const telegram = encodeTelegram(input('kamstrup-compact', { key: KEY, sessionNumber: session }));
      const framing = stripFrame(telegram);
      if (framing.ok && framing.frame.format === 'B') return telegram;
    }
    throw new Error('no ambiguous telegram found');
  }

  it('is decoded as received once the format-B reading fails its cryptographic check', () => {
    const telegram = ambiguousTelegram();
    const result = decodeTelegram(telegram, { key: KEY, formats: CompactFormatStore.withKnownFormats() });
    expect(result.ok).toBe(true);
    expect(result.frameFormat).toBe('none');
    expect(values(result)).toEqual(EXPECTED);
  });
});
