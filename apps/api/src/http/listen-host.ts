import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

/**
 * The host to listen on for every interface: `::` (IPv6 and, dual-stack, IPv4) where the host has IPv6, otherwise
 * `0.0.0.0`. Fastify listens on localhost unless given a host, and binding `::` fails on a host with IPv6 disabled;
 * node:net makes the same choice when listen() gets no host.
 */
export function anyInterfaceHost(
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): '::' | '0.0.0.0' {
  const hasIpv6 = Object.values(interfaces).some((addresses) =>
    (addresses ?? []).some((address) => address.family === 'IPv6'),
  );
  return hasIpv6 ? '::' : '0.0.0.0';
}
