import { isIP } from 'node:net';

/**
 * Which reverse proxies may tell a service the client's address through X-Forwarded-For, in the forms Express's
 * `trust proxy` setting takes: false (the default: the socket's peer is the client, the header is ignored), a
 * number of proxy hops in front of the service, or the addresses/subnets of the proxies. `true` (trust any
 * sender) is accepted as well, for a service reachable only through its proxies.
 */
export type TrustProxy = boolean | number | readonly string[];

/** Express's names for address ranges. */
const RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isProxyAddress(entry: string): boolean {
  if (RANGE_NAMES.has(entry)) return true;
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * Parses a trust-proxy setting: `false`/`true`, a hop count (0-10, 0 meaning off), or a comma-separated list of
 * proxy addresses, subnets (CIDR) and the names loopback, linklocal, uniquelocal.
 */
export function parseTrustProxy(
  text: string,
): { ok: true; value: TrustProxy } | { ok: false; message: string } {
  const value = text.trim().toLowerCase();
  if (value === 'false') return { ok: true, value: false };
  if (value === 'true') return { ok: true, value: true };
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > 10) return { ok: false, message: `'${text}': at most 10 proxy hops` };
    return { ok: true, value: hops === 0 ? false : hops };
  }
  const entries = value.split(',').map((entry) => entry.trim());
  const invalid = entries.filter((entry) => !isProxyAddress(entry));
  if (invalid.length > 0) {
    return {
      ok: false,
      message: `'${invalid.join(', ')}' is not true, false, a hop count or a proxy address/subnet`,
    };
  }
  return { ok: true, value: entries };
}
