import { loadConfig } from './config';
import { parseTrustProxy } from './trust-proxy';

describe('parseTrustProxy', () => {
  it.each([
    ['false', false],
    ['TRUE', true],
    ['0', false],
    ['2', 2],
    ['10.0.0.0/8, 192.168.1.10', ['10.0.0.0/8', '192.168.1.10']],
    ['loopback,fd00::/8', ['loopback', 'fd00::/8']],
  ])('accepts %s', (text, value) => {
    expect(parseTrustProxy(text)).toEqual({ ok: true, value });
  });

  it.each(['11', 'yes', '10.0.0.0/33', '300.1.1.1', 'proxy.example.org', '10.0.0.1/8/1'])(
    'refuses %s',
    (text) => {
      expect(parseTrustProxy(text)).toMatchObject({ ok: false });
    },
  );

  it('is off unless API_TRUST_PROXY says otherwise, and names the variable when it is wrong', () => {
    expect(loadConfig({}).api.trustProxy).toBe(false);
    expect(loadConfig({ API_TRUST_PROXY: '1' }).api.trustProxy).toBe(1);
    expect(() => loadConfig({ API_TRUST_PROXY: 'everyone' })).toThrow(
      "API_TRUST_PROXY: 'everyone' is not true, false, a hop count or a proxy address/subnet",
    );
  });
});
