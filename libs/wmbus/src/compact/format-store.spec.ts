import type { DataRecord } from '../types';
import { CompactFormatStore, type CompactFormatEntry } from './format-store';
import { KAMSTRUP_WATER_FORMATS, KNOWN_COMPACT_FORMATS } from './known-formats';
import { formatOfRecords, formatSignature } from './signature';

const MULTICAL21_FORMAT = Buffer.from('02FF2004134413615B6167', 'hex');

describe('formatSignature', () => {
  // Spec §7.5 lists the wire bytes as the value for seven of these; the CRC values below are the
  // ones the vectors' compact frames carry (e.g. Votten sends 05 09 = 0x0905).
  it.each([
    ['02FF2004134413615B6167', 0xa8ed],
    ['02FF20041392013BA1015B8101E7FF0F', 0xc412],
    ['04FF234413523B06FF1B426C61675167023B04138101E7FF0F', 0x0905],
    ['02FF2004134413426C523B615B616751678101E7FF0F06FF1B', 0x36d4],
    ['02FF2004134413A1015B8101E7FF0F', 0x61eb],
    ['02FF2004134413615B5167', 0xd2f7],
    ['02FF2004134413', 0xdd34],
    ['02FF200413523B', 0x7c0e],
    ['04FF2304134413426C023B92013BA2013B06FF1BA1015B91015BA10167', 0xa9f3],
  ])('signature of %s is 0x%s', (format, signature) => {
    expect(formatSignature(Buffer.from(format, 'hex'))).toBe(signature);
  });

  it('matches the signature bytes of the compact frames in the Kamstrup vectors (low byte first on the wire)', () => {
    // MyTapWater compact: ...79 EDA8 ..., Vadden: ...79 12C4 ..., Votten: ...79 0509 ..., MoreWater: ...79 D436 ...
    for (const [wire, format] of [
      ['EDA8', '02FF2004134413615B6167'],
      ['12C4', '02FF20041392013BA1015B8101E7FF0F'],
      ['0509', '04FF234413523B06FF1B426C61675167023B04138101E7FF0F'],
      ['D436', '02FF2004134413426C523B615B616751678101E7FF0F06FF1B'],
    ]) {
      expect(formatSignature(Buffer.from(format, 'hex'))).toBe(Buffer.from(wire, 'hex').readUInt16LE(0));
    }
  });
});

describe('formatOfRecords', () => {
  const record = (header: string): DataRecord => ({
    key: header,
    header,
    offset: 0,
    function: 'instantaneous',
    storage: 0,
    tariff: 0,
    subunit: 0,
    quantity: 'volume',
    unit: 'm3',
    value: 0,
    raw: '',
    combinable: [],
  });

  it('concatenates record headers and stops at a manufacturer tail', () => {
    const records = ['02FF20', '0413', '92013B', 'A1015B', '8101E7FF0F', '0F'].map(record);
    expect(formatOfRecords(records).toString('hex').toUpperCase()).toBe('02FF20041392013BA1015B8101E7FF0F');
    expect(formatSignature(formatOfRecords(records))).toBe(0xc412);
  });
});

describe('CompactFormatStore', () => {
  it('ships every pre-declared format under each manufacturer and device type of its table row', () => {
    const store = CompactFormatStore.withKnownFormats();
    let expected = 0;
    for (const known of KNOWN_COMPACT_FORMATS) {
      for (const manufacturer of known.manufacturers) {
        for (const deviceType of known.deviceTypes) {
          for (const format of known.formats) {
            const bytes = Buffer.from(format, 'hex');
            expect(store.lookup(manufacturer, deviceType, formatSignature(bytes))).toEqual(bytes);
            expected++;
          }
        }
      }
    }
    // kamwater 9 formats × KAM/KAW × 0x06/0x16, kamheat 1 (KAM/0x04) + 2 (KAM/0x0C), engelmann_faw 1 × 3 types.
    expect(expected).toBe(9 * 4 + 1 + 2 + 3);
    expect(store.size).toBe(expected);
    expect(KNOWN_COMPACT_FORMATS.find((k) => k.driver === 'kamwater')?.formats).toBe(KAMSTRUP_WATER_FORMATS);
    expect(store.entries().every((e) => e.source === 'builtin' && e.learnedAt === undefined)).toBe(true);
  });

  it('knows the kamheat and engelmann_faw signatures only for their declared meter types', () => {
    const store = CompactFormatStore.withKnownFormats();
    // Signatures as the wmbusmeters vectors send them (kamheat_30_04, kamheat_30_0c, kamheat_34_0c, Engelmann CI 0x73).
    expect(store.lookup('KAM', 0x04, 0xf1e7)?.toString('hex').toUpperCase()).toBe(
      '030643060314426C022D01FF21',
    );
    expect(store.lookup('KAM', 0x0c, 0x52c2)).toBeDefined();
    expect(store.lookup('KAM', 0x0c, 0xb34d)).toBeDefined();
    expect(store.lookup('KAM', 0x0c, 0xf1e7)).toBeUndefined();
    expect(store.lookup('KAM', 0x04, 0x52c2)).toBeUndefined();
    for (const deviceType of [0x06, 0x07, 0x16])
      expect(store.lookup('EFE', deviceType, 0x052d)).toBeDefined();
    expect(store.lookup('EFE', 0x04, 0x052d)).toBeUndefined();
    expect(store.lookup('KAM', 0x07, 0x052d)).toBeUndefined();
  });

  it('keys formats by manufacturer and device type', () => {
    const store = CompactFormatStore.withKnownFormats();
    expect(store.lookup('KAM', 0x16, 0xa8ed)).toBeDefined();
    expect(store.lookup('KAM', 0x04, 0xa8ed)).toBeUndefined();
    expect(store.lookup('APA', 0x16, 0xa8ed)).toBeUndefined();
    expect(store.lookup('KAM', 0x16, 0x1234)).toBeUndefined();
    expect(store.lookup('not a manufacturer', 0x16, 0xa8ed)).toBeUndefined();
  });

  it('learns a new format once, notifies listeners, and keeps the first format for a signature', () => {
    const store = new CompactFormatStore();
    const learned: CompactFormatEntry[] = [];
    store.onLearned((entry) => learned.push(entry));

    expect(store.learn('KAM', 0x16, MULTICAL21_FORMAT)).toBe(true);
    expect(store.learn('KAM', 0x16, Buffer.from(MULTICAL21_FORMAT))).toBe(false);
    expect(learned).toHaveLength(1);
    expect(learned[0]).toMatchObject({
      manufacturer: 'KAM',
      deviceType: 0x16,
      signature: 0xa8ed,
      format: '02FF2004134413615B6167',
      source: 'learned',
    });
    expect(Date.parse(learned[0].learnedAt as string)).not.toBeNaN();

    // The same DIF/VIF string from another meter type is a separate entry.
    expect(store.learn('KAM', 0x06, MULTICAL21_FORMAT)).toBe(true);
    expect(learned).toHaveLength(2);
  });

  it('does not let later mutation of the caller buffer change a learned format', () => {
    const store = new CompactFormatStore();
    const bytes = Buffer.from(MULTICAL21_FORMAT);
    store.learn('KAM', 0x16, bytes);
    bytes.fill(0);
    expect(store.lookup('KAM', 0x16, 0xa8ed)).toEqual(MULTICAL21_FORMAT);
  });

  it('does not relearn a built-in format', () => {
    const store = CompactFormatStore.withKnownFormats();
    const listener = jest.fn();
    store.onLearned(listener);
    expect(store.learn('KAW', 0x16, MULTICAL21_FORMAT)).toBe(false);
    expect(listener).not.toHaveBeenCalled();
  });

  it('runs every listener and rethrows the first listener error with the format kept', () => {
    const store = new CompactFormatStore();
    const second = jest.fn();
    store.onLearned(() => {
      throw new Error('database down');
    });
    store.onLearned(second);
    expect(() => store.learn('KAM', 0x16, MULTICAL21_FORMAT)).toThrow('database down');
    expect(second).toHaveBeenCalledTimes(1);
    expect(store.lookup('KAM', 0x16, 0xa8ed)).toEqual(MULTICAL21_FORMAT);
  });

  it('rejects learning from empty formats, bad manufacturers and bad device types', () => {
    const store = new CompactFormatStore();
    expect(() => store.learn('KAM', 0x16, Buffer.alloc(0))).toThrow(/empty/);
    expect(() => store.learn('kam!', 0x16, MULTICAL21_FORMAT)).toThrow(/manufacturer/);
    expect(() => store.learn('KAM', 0x100, MULTICAL21_FORMAT)).toThrow(/device type/);
  });

  it('round-trips through JSON, learned entries included', () => {
    const store = CompactFormatStore.withKnownFormats();
    const learnedFormat = Buffer.from('0413023B', 'hex');
    store.learn('KAM', 0x16, learnedFormat);
    const json = JSON.parse(JSON.stringify(store));
    const restored = CompactFormatStore.fromJSON(json);
    expect(restored.entries()).toEqual(store.entries());
    expect(restored.lookup('KAM', 0x16, formatSignature(learnedFormat))).toEqual(learnedFormat);
    expect(restored.entries().find((e) => e.source === 'learned')?.learnedAt).toEqual(
      store.entries().find((e) => e.source === 'learned')?.learnedAt,
    );
  });

  it('add() accepts an identical duplicate and refuses a conflicting format for the same signature', () => {
    const store = CompactFormatStore.withKnownFormats();
    const known = store.entries()[0];
    const size = store.size;
    store.add({ ...known, source: 'learned' });
    expect(store.size).toBe(size);
    // A different DIF/VIF string cannot carry the same signature: the store recomputes it and says so.
    expect(() => store.add({ ...known, format: '0413' })).toThrow(
      /signature: 0x.* does not match the format/,
    );
  });

  describe('fromJSON rejects bad input with the entry and field named', () => {
    const good: CompactFormatEntry = {
      manufacturer: 'KAM',
      deviceType: 0x16,
      signature: 0xa8ed,
      format: '02FF2004134413615B6167',
      source: 'learned',
      learnedAt: '2024-05-01T10:00:00.000Z',
    };
    const withEntry = (patch: Record<string, unknown>) => ({
      version: 1,
      formats: [good, { ...good, ...patch }],
    });

    it.each([
      [null, /expected an object/],
      [[], /expected an object/],
      [{ version: 2, formats: [] }, /unsupported version 2/],
      [{ version: 1, formats: {} }, /"formats" must be an array/],
      [{ version: 1, formats: [42] }, /formats\[0\]: expected an object/],
      [withEntry({ manufacturer: 'kam' }), /formats\[1\]\.manufacturer/],
      [withEntry({ deviceType: 300 }), /formats\[1\]\.deviceType/],
      [withEntry({ deviceType: '16' }), /formats\[1\]\.deviceType/],
      [withEntry({ format: 'XYZ' }), /formats\[1\]\.format: not hex/],
      [withEntry({ format: '' }), /formats\[1\]\.format: not hex/],
      [withEntry({ signature: 0x1234 }), /formats\[1\]\.signature: 0x1234 does not match the format/],
      [withEntry({ signature: undefined }), /formats\[1\]\.signature/],
      [withEntry({ source: 'guessed' }), /formats\[1\]\.source/],
      [withEntry({ learnedAt: 'yesterday' }), /formats\[1\]\.learnedAt/],
    ])('%j', (json, message) => {
      expect(() => CompactFormatStore.fromJSON(json)).toThrow(message);
    });

    it('accepts a valid document and normalises hex case', () => {
      const store = CompactFormatStore.fromJSON({
        version: 1,
        formats: [{ ...good, format: good.format.toLowerCase() }],
      });
      expect(store.entries()).toEqual([good]);
    });
  });
});
