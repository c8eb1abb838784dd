import { parseClientMessage, targetOf } from './live-protocol';

describe('live protocol: client messages', () => {
  it('reads a meter subscription with since, upper-casing the meter id', () => {
    const parsed = parseClientMessage(
      JSON.stringify({ type: 'subscribe', meterId: '7634879a', since: '2026-11-24T10:00:00+01:00' }),
    );
    expect(parsed).toEqual({
      ok: true,
      message: { type: 'subscribe', meterId: '7634879A', since: new Date('2026-11-24T09:00:00Z') },
    });
    if (parsed.ok && parsed.message.type === 'subscribe')
      expect(targetOf(parsed.message).key).toBe('meter:7634879A');
  });

  it('names society subscriptions by the lower-case id, so any spelling is one subscription', () => {
    expect(targetOf({ societyId: '0A1B2C3D-0000-4000-8000-00000000000F' }).key).toBe(
      'society:0a1b2c3d-0000-4000-8000-00000000000f',
    );
    expect(targetOf({ groupId: 3 })).toEqual({ kind: 'group', id: 3, key: 'group:3' });
  });

  it('needs exactly one target', () => {
    const none = parseClientMessage(JSON.stringify({ type: 'unsubscribe' }));
    const two = parseClientMessage(JSON.stringify({ type: 'subscribe', meterId: '76348799', groupId: 2 }));
    for (const parsed of [none, two])
      expect(parsed).toEqual({
        ok: false,
        details: [{ field: 'meterId', message: 'exactly one of meterId, groupId or societyId is required' }],
      });
  });

  it('names every bad field, unknown fields and unknown types', () => {
    const parsed = parseClientMessage(
      JSON.stringify({ type: 'subscribe', groupId: 1.5, since: '24.11.2026', extra: true }),
    );
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      const fields = parsed.details.map((d) => d.field);
      expect(fields).toEqual(expect.arrayContaining(['groupId', 'since']));
      expect(parsed.details.find((d) => d.field === 'groupId')?.message).toBe('must be an integer');
      expect(parsed.details.some((d) => /extra/.test(d.message))).toBe(true);
    }
    expect(parseClientMessage(JSON.stringify({ type: 'publish' }))).toEqual({
      ok: false,
      details: [{ field: 'type', message: 'must be one of auth, subscribe, unsubscribe' }],
    });
    expect(parseClientMessage('{not json')).toEqual({
      ok: false,
      details: [{ field: '', message: 'must be a JSON object' }],
    });
    expect(parseClientMessage(JSON.stringify({ type: 'auth', token: '' }))).toEqual({
      ok: false,
      details: [{ field: 'token', message: 'must not be empty' }],
    });
  });
});
