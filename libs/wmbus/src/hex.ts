const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

/** Parses a hex string (whitespace, `0x` prefix and `_` separators tolerated); undefined when it is not hex. */
export function parseHex(text: string): Buffer | undefined {
  const cleaned = text.replace(/^0x/i, '').replace(/[\s_]/g, '');
  if (cleaned.length === 0 || !HEX_RE.test(cleaned)) return undefined;
  return Buffer.from(cleaned, 'hex');
}

/** Upper-case hex, as wmbusmeters prints record keys and as operators paste telegrams. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex').toUpperCase();
}
