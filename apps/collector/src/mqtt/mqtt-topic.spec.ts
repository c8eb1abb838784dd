import { gatewayIdFromTopic, itemsFromPayload } from './mqtt-topic';

describe('gatewayIdFromTopic', () => {
  it('takes the level under the pattern wildcard', () => {
    expect(gatewayIdFromTopic('hes/gw/+/telegrams', 'hes/gw/gw-17/telegrams')).toBe('gw-17');
    expect(gatewayIdFromTopic('hes/gw/+/telegrams', 'hes/gw//telegrams')).toBeUndefined();
    expect(gatewayIdFromTopic('site/a/telegrams', 'site/a/telegrams')).toBe('site/a/telegrams');
  });
});

describe('itemsFromPayload', () => {
  it('accepts an item, an array of items, a bare hex string or a JSON string', () => {
    expect(itemsFromPayload(Buffer.from('{"telegram":"aa"}'))).toEqual({
      ok: true,
      items: [{ telegram: 'aa' }],
    });
    expect(itemsFromPayload(Buffer.from('[{"telegram":"aa"},"bb"]'))).toEqual({
      ok: true,
      items: [{ telegram: 'aa' }, 'bb'],
    });
    expect(itemsFromPayload(Buffer.from(' 2e44ab \n'))).toEqual({ ok: true, items: ['2e44ab'] });
    expect(itemsFromPayload(Buffer.from('"2e44"'))).toEqual({ ok: true, items: ['2e44'] });
  });

  it('rejects empty and malformed JSON payloads with a reason', () => {
    expect(itemsFromPayload(Buffer.from('  '))).toEqual({ ok: false, message: 'empty payload' });
    const bad = itemsFromPayload(Buffer.from('{"telegram":'));
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.message).toMatch(/^not valid JSON/);
  });
});
