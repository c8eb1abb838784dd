import { parseTelegramItem, type ItemParse } from './telegram-item';

const options = { now: Date.UTC(2026, 10, 24, 12), maxFutureSkewMs: 60_000, maxTelegramBytes: 300 };
const HEX = '2e442d2c998877661b168d2086a2b5d5';
const parse = (input: unknown): ItemParse => parseTelegramItem(input, options);
const reasonOf = (input: unknown) => {
  const result = parse(input);
  return result.ok ? undefined : result.reason;
};

describe('parseTelegramItem', () => {
  it('takes a well-formed item with every field, and a bare telegram string', () => {
    const result = parse({
      telegram: HEX,
      receivedAt: '2026-11-24T11:59:00.123+01:00',
      rssi: -71,
      gatewayId: 'gw',
    });
    expect(result).toEqual({
      ok: true,
      item: {
        telegram: Buffer.from(HEX, 'hex'),
        receivedAt: new Date('2026-11-24T10:59:00.123Z'),
        rssi: -71,
        gatewayId: 'gw',
      },
    });
    expect(parse(HEX)).toEqual({ ok: true, item: { telegram: Buffer.from(HEX, 'hex') } });
    expect(parse({ telegram: HEX.toUpperCase(), extra: 1 })).toMatchObject({ ok: true });
  });

  it('still reads hex with a prefix or separators, and base64', () => {
    const bytes = Buffer.from(HEX, 'hex');
    for (const text of [
      `0x${HEX}`,
      HEX.replace(/(..)/g, '$1 ').trim(),
      HEX.replace(/(....)/g, '$1_').slice(0, -1),
    ])
      expect(parse({ telegram: text })).toMatchObject({ ok: true, item: { telegram: bytes } });
    expect(parse({ telegram: bytes.toString('base64') })).toMatchObject({
      ok: true,
      item: { telegram: bytes },
    });
  });

  it('does not read characters outside ASCII as hex digits', () => {
    // Buffer.from(…, 'hex') reads the low byte of a UTF-16 unit: 'š' (U+0161) would pass for 'a'.
    expect(reasonOf({ telegram: '\u0161\u0161' })).toMatchObject({ code: 'BAD_INPUT', field: 'telegram' });
  });

  it.each([
    [{ telegram: '' }, 'telegram', 'telegram is empty'],
    [{ telegram: 7 }, 'telegram', undefined],
    [[HEX], undefined, undefined],
    [null, undefined, undefined],
    [{ telegram: HEX, receivedAt: '2025-02-29T00:00:00Z' }, 'receivedAt', 'not an ISO-8601'],
    [{ telegram: HEX, receivedAt: '2026-11-24T10:00Z' }, 'receivedAt', 'not an ISO-8601'],
    [{ telegram: HEX, receivedAt: '2026-11-24T10:00:00' }, 'receivedAt', 'not an ISO-8601'],
    [{ telegram: HEX, receivedAt: '2026-11-24T10:00:00+24:00' }, 'receivedAt', 'not an ISO-8601'],
    [{ telegram: HEX, receivedAt: 1_764_000_000_000 }, 'receivedAt', undefined],
    [{ telegram: HEX, rssi: 51 }, 'rssi', undefined],
    [{ telegram: HEX, rssi: -200.5 }, 'rssi', undefined],
    [{ telegram: HEX, rssi: '-70' }, 'rssi', undefined],
    [{ telegram: HEX, gatewayId: '' }, 'gatewayId', undefined],
    [{ telegram: HEX, gatewayId: 'g'.repeat(129) }, 'gatewayId', undefined],
  ])('rejects %j as a bad item naming the field', (input, field, message) => {
    const reason = reasonOf(input);
    expect(reason?.code).toBe('BAD_ITEM');
    expect(reason?.field).toBe(field);
    if (message !== undefined) expect(reason?.message).toContain(message);
  });

  it('takes the edges of the ranges', () => {
    expect(parse({ telegram: HEX, rssi: -200, gatewayId: 'g'.repeat(128) })).toMatchObject({ ok: true });
    expect(parse({ telegram: HEX, rssi: 50, receivedAt: '2024-02-29T23:59:59.999999Z' })).toMatchObject({
      ok: true,
    });
  });

  it('rejects a receive time in the future and a telegram too long for wM-Bus', () => {
    expect(reasonOf({ telegram: HEX, receivedAt: '2026-11-24T12:02:00Z' })).toMatchObject({
      code: 'BAD_ITEM',
      field: 'receivedAt',
    });
    expect(reasonOf({ telegram: 'ab'.repeat(301) })).toMatchObject({ code: 'BAD_LENGTH' });
  });
});
