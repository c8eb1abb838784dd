import { decodeEnvelope, encodeEnvelope, TelegramEnvelope } from './envelope';
import { MessageValidationError } from './errors';

const telegram = Buffer.from('2C442D2C7856341230038E7A4F0020052F2F0413B4160000426C9F2C4413A01500000F', 'hex');

const full: TelegramEnvelope = {
  sourceKind: 'handheld',
  sourceId: 'hh-07',
  receivedAt: Date.UTC(2026, 10, 24, 10, 0, 0, 123),
  signal: -87.5,
  telegram,
  meterId: '12345678',
  manufacturer: 'KAM',
  meterGroup: 'tower-ä1',
  scanSessionId: 'scan-42',
  uploadId: 'up-9',
  gps: { latitude: 18.5204, longitude: 73.8567 },
};

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof MessageValidationError) return error.field;
    throw error;
  }
  throw new Error('expected a MessageValidationError');
}

describe('telegram envelope', () => {
  it('round-trips every field, including optional ones and non-ASCII text', () => {
    const decoded = decodeEnvelope(encodeEnvelope(full));
    expect({ ...decoded, telegram: decoded.telegram.toString('hex') }).toEqual({
      ...full,
      telegram: telegram.toString('hex'),
    });
  });

  it('round-trips a minimal envelope without adding optional fields', () => {
    const minimal: TelegramEnvelope = {
      sourceKind: 'gateway',
      sourceId: 'gw-1',
      receivedAt: Date.UTC(2026, 0, 1),
      telegram,
      meterId: '00000001',
      manufacturer: 'KAM',
      meterGroup: 'default',
    };
    const bytes = encodeEnvelope(minimal);
    expect(bytes[0]).toBe(1);
    const decoded = decodeEnvelope(bytes);
    expect(Object.keys(decoded).sort()).toEqual(Object.keys(minimal).sort());
    expect(decoded.telegram.equals(telegram)).toBe(true);
  });

  it('is much smaller than the equivalent JSON', () => {
    const json = JSON.stringify({ ...full, telegram: telegram.toString('hex') });
    expect(encodeEnvelope(full).length).toBeLessThan(json.length * 0.6);
  });

  it('names the field when encoding invalid input', () => {
    expect(fieldOf(() => encodeEnvelope({ ...full, receivedAt: 1_700_000_000 }))).toBe('receivedAt');
    expect(fieldOf(() => encodeEnvelope({ ...full, meterId: '' }))).toBe('meterId');
    expect(fieldOf(() => encodeEnvelope({ ...full, signal: Number.NaN }))).toBe('signal');
    expect(fieldOf(() => encodeEnvelope({ ...full, gps: { latitude: 91, longitude: 0 } }))).toBe(
      'gps.latitude',
    );
    expect(fieldOf(() => encodeEnvelope({ ...full, telegram: Buffer.alloc(0) }))).toBe('telegram');
    expect(fieldOf(() => encodeEnvelope({ ...full, sourceKind: 'fax' as never }))).toBe('sourceKind');
    expect(fieldOf(() => encodeEnvelope({ ...full, meterGroup: 'g'.repeat(256) }))).toBe('meterGroup');
  });

  it('names the field when decoding corrupt bytes', () => {
    const bytes = encodeEnvelope(full);
    const wrongVersion = Buffer.from(bytes);
    wrongVersion[0] = 9;
    expect(() => decodeEnvelope(wrongVersion)).toThrow(
      'version: unsupported envelope version 9 (expected 1)',
    );
    const badKind = Buffer.from(bytes);
    badKind[1] = 7;
    expect(fieldOf(() => decodeEnvelope(badKind))).toBe('sourceKind');
    expect(fieldOf(() => decodeEnvelope(bytes.subarray(0, bytes.length - 3)))).toBe('telegram');
    expect(fieldOf(() => decodeEnvelope(bytes.subarray(0, 5)))).toBe('receivedAt');
    expect(fieldOf(() => decodeEnvelope(Buffer.concat([bytes, Buffer.from([0])])))).toBe('telegram');
    expect(fieldOf(() => decodeEnvelope(Buffer.alloc(0)))).toBe('version');
  });

  it('encodes and decodes well above 20k messages per second', () => {
    const n = 50_000;
    const started = process.hrtime.bigint();
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const encoded = encodeEnvelope({ ...full, receivedAt: full.receivedAt + i });
      bytes += decodeEnvelope(encoded).telegram.length;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    expect(bytes).toBe(n * telegram.length);
    expect(n / seconds).toBeGreaterThan(20_000);
  });
});
