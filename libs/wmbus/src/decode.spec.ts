import { CompactFormatStore } from './compact';
import { crc16En13757 } from './crc';
import { COMPACT_CRC_MISMATCH, decodeTelegram } from './decode';
import { addFrameCrcs } from './frame';
import { parseHex } from './hex';

const KEY = parseHex('28F64A24988064A079AA2C807D6102AE')!;
const KAMSTRUP_FULL = parseHex(
  '2A442D2C998734761B168D2091D37CAC21E1D68CDAFFCD3DC452BD802913FF7B1706CA9E355D6C2701CC24',
)!;
const KAMSTRUP_COMPACT = parseHex(
  '23442D2C998734761B168D20983081B2227A6FA1F10E1B79B5EB4B17E81F930E937EE06C',
)!;
const SENSOSTAR_KEY = parseHex('622b9656991ff0c1574c0950cf9278d1')!;
const SENSOSTAR_B = parseHex(
  'C244C5140443054300048C200E900F002C25895E02003B0877D31DA840B17A0E009007100F8FAD4C4E61400DA4F3B1F7E273CC4C5C07F93CD20B237345DB39F9A98F8415E1C4B7A25C86E4C22D05C3352FA7E2E5627031F14643063F1DC8FE2C32459B6F02E4234B447B18E4BFDA8C4DA9B1EDE6CF29D0B2122A3E8B9DEEBEE3E6DBE6617B4E709EC6B595179CB01C2C0BDE6723A345B708652880C114A58DA07C73AD9EB8ACB17FA0A88F19BC84CB1FC56672DE8A9603FD0C05010002FD0B2111F60B',
)!;
const APATOR_MODE5 = parseHex(
  '6e4401068888888805077a85006085bc2630713819512eb4cd87fba554fb43f67cf9654a68ee8e194088160df752e716238292e8af1ac20986202ee561d743602466915e42f1105d9c6782a54504e4f099e65a7656b930c73a30775122d2fdf074b5035cfaa7e0050bf32faae03a77',
)!;
const PLAIN_7A = parseHex(
  '2E44A5119870659930037A060020052F2F0C933E842784060A3B00000A5A5901C4016D3B37DF2CCC01933E24032606',
)!;
const WIRED = parseHex(
  '685656680800727537680001061507CCE800000C7875376800046D1DB458340413F73E0000023B0D00441385010000426C41340227090203FD171C030004FF0A0404000002FF0B000003FF0C1300B20F00042C1B1B00010200003716',
)!;

function value(result: ReturnType<typeof decodeTelegram>, key: string): unknown {
  return result.records.find((r) => r.key === key)?.value;
}

describe('decodeTelegram — Kamstrup ELL AES-CTR', () => {
  it('decrypts the full frame and decodes its records and kamwater fields', () => {
    const result = decodeTelegram(KAMSTRUP_FULL, { key: KEY });
    expect(result.ok).toBe(true);
    expect(result.security).toBe('ell-aes-ctr');
    expect(result.frameFormat).toBe('none');
    expect(result.header).toMatchObject({
      manufacturer: 'KAM',
      id: '76348799',
      medium: 'cold water',
      dllId: '76348799',
    });
    expect(result.header?.ell).toMatchObject({ ci: 0x8d, cc: 0x20, acc: 0x91, encryption: 1 });
    expect(value(result, '0413')).toBe(6.408);
    expect(value(result, '4413')).toBe(6.408);
    expect(result.driver).toBe('kamwater');
    expect(result.fields.total_m3).toBe(6.408);
  });

  it('decodes the same frame with DLL CRCs in format A and B', () => {
    for (const format of ['A', 'B'] as const) {
      const result = decodeTelegram(addFrameCrcs(KAMSTRUP_FULL, format), { key: KEY });
      expect(result.ok).toBe(true);
      expect(result.frameFormat).toBe(format);
      expect(value(result, '0413')).toBe(6.408);
    }
  });

  it('looks the key up by meter id', () => {
    const asked: string[] = [];
    const result = decodeTelegram(KAMSTRUP_FULL, {
      key: (id) => {
        asked.push(id);
        return id === '76348799' ? KEY : undefined;
      },
    });
    expect(result.ok).toBe(true);
    expect(asked).toContain('76348799');
  });

  it('decodes the compact frame through a built-in format and verifies its full-frame CRC', () => {
    const result = decodeTelegram(KAMSTRUP_COMPACT, {
      key: KEY,
      formats: CompactFormatStore.withKnownFormats(),
    });
    expect(result.ok).toBe(true);
    expect(result.header?.tpl?.ci).toBe(0x79);
    expect(value(result, '0413')).toBe(6.409);
  });

  it('learns the format from a full frame, then decodes the compact frame with it', () => {
    const store = new CompactFormatStore();
    expect(decodeTelegram(KAMSTRUP_COMPACT, { key: KEY, formats: store }).error?.code).toBe(
      'UNKNOWN_COMPACT_FORMAT',
    );
    expect(decodeTelegram(KAMSTRUP_FULL, { key: KEY, formats: store }).ok).toBe(true);
    const compact = decodeTelegram(KAMSTRUP_COMPACT, { key: KEY, formats: store });
    expect(compact.ok).toBe(true);
    expect(value(compact, '4413')).toBe(6.409);
  });

  it('says a full frame is needed when the compact format is unknown', () => {
    const result = decodeTelegram(KAMSTRUP_COMPACT, { key: KEY });
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('UNKNOWN_COMPACT_FORMAT');
    expect(result.error?.message).toContain('full frame');
    expect(result.records).toEqual([]);
    expect(Object.keys(result.fields)).toEqual(['_', 'media', 'meter', 'name', 'id']);
  });

  it('gives no fields at all when the failure comes before a header', () => {
    const result = decodeTelegram(KAMSTRUP_FULL.subarray(0, 8));
    expect(result.ok).toBe(false);
    expect(result.header).toBeUndefined();
    expect(result.fields).toEqual({});
  });

  it('rejects a wrong key with DECRYPTION_FAILED naming the meter, and yields no values', () => {
    const result = decodeTelegram(KAMSTRUP_FULL, { key: Buffer.alloc(16, 0x42) });
    expect(result.ok).toBe(false);
    expect(result.error).toEqual({
      code: 'DECRYPTION_FAILED',
      message: 'wrong key or corrupt telegram for meter 76348799',
    });
    expect(result.records).toEqual([]);
    // Identity only, as wmbusmeters prints an undecodable telegram: no values.
    expect(result.fields).toEqual({
      _: 'telegram',
      media: 'cold water',
      meter: 'kamwater',
      name: '',
      id: '76348799',
    });
    expect(result.header?.id).toBe('76348799');
  });

  it('rejects a corrupted ciphertext byte like a wrong key', () => {
    const corrupt = Buffer.from(KAMSTRUP_FULL);
    corrupt[30] ^= 0x01;
    expect(decodeTelegram(corrupt, { key: KEY }).error?.code).toBe('DECRYPTION_FAILED');
  });

  it('reports NO_KEY without a key, and a key of the wrong size without printing it', () => {
    expect(decodeTelegram(KAMSTRUP_FULL).error?.code).toBe('NO_KEY');
    const short = decodeTelegram(KAMSTRUP_FULL, { key: Buffer.from('00112233445566778899', 'hex') });
    expect(short.error?.code).toBe('DECRYPTION_FAILED');
    expect(short.error?.message).toContain('has 10 bytes');
    expect(short.error?.message).not.toContain('0011');
  });

  it('decodes a compact frame whose rebuilt full frame does not match its CRC, with a coded warning', () => {
    // Plaintext compact frame (ELL CRC valid as is) with the full-frame CRC altered and the ELL CRC fixed.
    const plain = parseHex('23442D2C998734761B168D20983081B222C33D79EDA8E475710009190000091900007F16')!;
    const formats = CompactFormatStore.withKnownFormats();
    const intact = decodeTelegram(plain, { formats });
    expect(intact.ok).toBe(true);
    expect(intact.warnings.filter((w) => w.startsWith('COMPACT_CRC_MISMATCH'))).toEqual([]);

    const tampered = Buffer.from(plain);
    tampered[22] ^= 0xff;
    tampered.writeUInt16LE(crc16En13757(tampered, 19), 17);
    const result = decodeTelegram(tampered, { formats });
    expect(result.ok).toBe(true);
    expect(result.error).toBeUndefined();
    expect(result.records.map((r) => [r.key, r.value])).toEqual(intact.records.map((r) => [r.key, r.value]));
    expect(result.fields.total_m3).toBe(6.409);
    expect(result.warnings).toContain(
      `${COMPACT_CRC_MISMATCH}: compact frame of meter 76348799: the rebuilt full frame does not match its CRC`,
    );
  });
});

describe('decodeTelegram — TPL security', () => {
  it('decrypts mode 5 with the §4.1 IV (apator162, all-zero key)', () => {
    const result = decodeTelegram(APATOR_MODE5, { key: Buffer.alloc(16) });
    expect(result.ok).toBe(true);
    expect(result.security).toBe('mode-5');
    expect(result.header?.tpl).toMatchObject({ ci: 0x7a, acc: 0x85, encryptedBlocks: 6 });
    expect(result.records.length).toBeGreaterThan(0);
    expect(decodeTelegram(APATOR_MODE5, { key: Buffer.alloc(16, 1) }).error?.code).toBe('DECRYPTION_FAILED');
  });

  it('verifies the mode-7 MAC and decrypts the sensostar frame (format B, ELL I, AFL) to 9341 kWh / 1348.631 m³', () => {
    const result = decodeTelegram(SENSOSTAR_B, { key: SENSOSTAR_KEY });
    expect(result.ok).toBe(true);
    expect(result.frameFormat).toBe('B');
    expect(result.security).toBe('mode-7');
    expect(result.header?.afl).toMatchObject({ messageCounter: 0x00025e89, mac: '3B0877D31DA840B1' });
    expect(value(result, '0406')).toBe(9341);
    expect(value(result, '0413')).toBe(1348.631);
  });

  it('reports MAC_MISMATCH for a wrong mode-7 key and for a flipped payload byte', () => {
    expect(decodeTelegram(SENSOSTAR_B, { key: Buffer.alloc(16, 9) }).error?.code).toBe('MAC_MISMATCH');
    const stripped = decodeTelegram(SENSOSTAR_B, { key: SENSOSTAR_KEY });
    expect(stripped.ok).toBe(true);
    const tampered = addFrameCrcs(
      Buffer.from(
        'BE44C5140443054300048C200E900F002C25895E02003B0877D31DA840B17A0E009007100F8FAD4C4E61400DA4F3B1F7E273CC4C5C07F93CD20B237345DB39F9A98F8415E1C4B7A25C86E4C22D05C3352FA7E2E5627031F14643063F1DC8FE2C32459B6F02E4234B447B18E4BFDA8C4DA9B1EDE6CF29D0B2122A3E8B9DEEBEE3E6DBE6617B4E709EC6B595179CB01C2C0BDE6723A345B708652880C114A58DA07C73AD9EB8ACB17FA0A88F19BC84CB1FC56672DE8A9603FD0C05010002FD0B2110',
        'hex',
      ),
      'B',
    );
    const result = decodeTelegram(tampered, { key: SENSOSTAR_KEY });
    expect(result.error).toEqual({
      code: 'MAC_MISMATCH',
      message: 'wrong key or corrupt telegram for meter 43054304',
    });
    expect(result.records).toEqual([]);
  });

  it('accepts a plaintext-marked (2F2F) mode-5 telegram without key and rejects it when a key is configured', () => {
    const noKey = decodeTelegram(PLAIN_7A);
    expect(noKey.ok).toBe(true);
    expect(noKey.security).toBe('mode-5');
    expect(noKey.warnings.join()).toContain('already plaintext');
    expect(decodeTelegram(PLAIN_7A, { key: Buffer.alloc(16, 3) }).error?.code).toBe('UNEXPECTED_PLAINTEXT');
  });

  it('rejects an unencrypted telegram for a meter that has a key', () => {
    const wired = decodeTelegram(WIRED, { key: () => Buffer.alloc(16) });
    expect(wired.error?.code).toBe('UNEXPECTED_PLAINTEXT');
    expect(wired.records).toEqual([]);
  });

  it('decodes Diehl real-data (LFSR) and default-key mode-5 frames without a configured key', () => {
    const sharky = decodeTelegram(
      parseHex(
        '534424232004256092687A370045752235854DEEEA5939FAD81C25FEEF5A23C38FB9168493C563F08DB10BAF87F660FBA91296BA2397E8F4220B86D3A192FB51E0BFCF24DCE72118E0C75A9E89F43BDFE370824B',
      )!,
    );
    expect(sharky.ok).toBe(true);
    expect(sharky.header?.id).toBe('68926025');
    expect(value(sharky, '0C06')).toBe(2651);
  });
});

describe('decodeTelegram — framing and errors', () => {
  it('decodes a wired M-Bus long frame (CI 0x72)', () => {
    const result = decodeTelegram(WIRED);
    expect(result.ok).toBe(true);
    expect(result.frameFormat).toBe('wired');
    expect(result.header).toMatchObject({ id: '00683775', manufacturer: 'APA', medium: 'water' });
  });

  it('reports BAD_CRC for a wired frame with a wrong checksum', () => {
    const corrupt = Buffer.from(WIRED);
    corrupt[30] ^= 0x01;
    expect(decodeTelegram(corrupt).error?.code).toBe('BAD_CRC');
  });

  it('reports BAD_CRC for a format A frame with one corrupt block', () => {
    const framed = addFrameCrcs(KAMSTRUP_FULL, 'A');
    framed[25] ^= 0x80;
    const result = decodeTelegram(framed, { key: KEY });
    expect(result.error?.code).toBe('BAD_CRC');
  });

  it('reports BAD_LENGTH for a telegram shorter than its L-field, without reading past the end', () => {
    const result = decodeTelegram(KAMSTRUP_FULL.subarray(0, 30), { key: KEY });
    expect(result.error?.code).toBe('BAD_LENGTH');
  });

  it('tolerates an L-field smaller than the telegram with a warning (qwater)', () => {
    const qwater = parseHex(
      '374493444836351218067ac70000200c13911900004c1391170000426cbf2ccc081391170000c2086cbf2c02bb560000326cffff046d1e02de21fed0',
    )!;
    const result = decodeTelegram(qwater);
    expect(result.ok).toBe(true);
    expect(result.warnings.join()).toContain('L-field announces 56 bytes but 60 were received');
    expect(value(result, '0C13')).toBe(1.991);
  });

  it('reports BAD_INPUT, TOO_SHORT, BAD_C_FIELD and UNKNOWN_CI', () => {
    expect(decodeTelegram(Buffer.alloc(0)).error?.code).toBe('BAD_INPUT');
    expect(decodeTelegram(Buffer.from('0A442D2C', 'hex')).error?.code).toBe('TOO_SHORT');
    expect(decodeTelegram(parseHex('0B082D2C998734761B1678FF')!).error?.code).toBe('BAD_C_FIELD');
    const unknownCi = decodeTelegram(parseHex('0B442D2C998734761B1655FF')!);
    expect(unknownCi.error).toMatchObject({ code: 'UNKNOWN_CI', offset: 10 });
  });

  it('reports TRUNCATED when a layer header runs past the end', () => {
    expect(decodeTelegram(parseHex('0C442D2C998734761B168D2091')!).error?.code).toBe('TRUNCATED');
    expect(decodeTelegram(parseHex('0C442D2C998734761B167A0100')!).error?.code).toBe('TRUNCATED');
  });

  it('keeps a manufacturer-specific payload as one opaque record', () => {
    const result = decodeTelegram(parseHex('0E442D2C998734761B16A1DEADBEEF')!);
    expect(result.ok).toBe(true);
    expect(result.records).toHaveLength(1);
    expect(result.records[0]).toMatchObject({
      key: 'A1',
      quantity: 'manufacturer_specific',
      raw: 'DEADBEEF',
    });
  });

  it('never throws, even when the key lookup does', () => {
    const result = decodeTelegram(KAMSTRUP_FULL, {
      key: () => {
        throw new Error('key store down');
      },
    });
    expect(result.ok).toBe(false);
    expect(result.error?.message).toContain('key store down');
  });

  it('survives every truncation and single-byte corruption of real telegrams', () => {
    for (const telegram of [KAMSTRUP_FULL, KAMSTRUP_COMPACT, SENSOSTAR_B, WIRED, APATOR_MODE5]) {
      for (let length = 0; length < telegram.length; length++) {
        const result = decodeTelegram(telegram.subarray(0, length), { key: KEY });
        expect(result.ok).toBe(false);
        expect(result.error?.code).toBeDefined();
      }
      for (let i = 0; i < telegram.length; i++) {
        const corrupt = Buffer.from(telegram);
        corrupt[i] ^= 0x5a;
        expect(() =>
          decodeTelegram(corrupt, { key: KEY, formats: CompactFormatStore.withKnownFormats() }),
        ).not.toThrow();
      }
    }
  });
});
