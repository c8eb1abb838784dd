import type { NetworkInterfaceInfo } from 'node:os';
import { anyInterfaceHost } from './listen-host';

const address = (family: 'IPv4' | 'IPv6', value: string): NetworkInterfaceInfo =>
  ({
    address: value,
    netmask: family === 'IPv4' ? '255.0.0.0' : 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    family,
    mac: '00:00:00:00:00:00',
    internal: true,
    cidr: null,
    ...(family === 'IPv6' ? { scopeid: 0 } : {}),
  }) as NetworkInterfaceInfo;

describe('anyInterfaceHost', () => {
  it('listens on :: when any interface has an IPv6 address', () => {
    expect(anyInterfaceHost({ lo: [address('IPv4', '127.0.0.1'), address('IPv6', '::1')] })).toBe('::');
  });

  it('listens on 0.0.0.0 on a host with IPv6 disabled', () => {
    expect(
      anyInterfaceHost({ lo: [address('IPv4', '127.0.0.1')], eth0: [address('IPv4', '10.0.0.2')] }),
    ).toBe('0.0.0.0');
  });

  it('treats interfaces without addresses as having none', () => {
    expect(anyInterfaceHost({ lo: undefined })).toBe('0.0.0.0');
  });
});
