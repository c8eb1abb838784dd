/**
 * Status-string rules shared by drivers, following wmbusmeters' semantics (spec §3.2, §7.4): bit
 * lookups name set bits, unnamed leftover bits become `<LOOKUP>_<HEX>`, and the final `status` field
 * is the sorted, de-duplicated union of all tokens, "OK" when there are none.
 */

export interface BitName {
  bit: number;
  name: string;
}

/**
 * Names the set bits of `value` within `mask`. Set bits inside the mask that have no name are
 * reported together as `<leftoverPrefix>_<HEX>` (upper-case, unpadded).
 */
export function bitTokens(
  value: number,
  mask: number,
  names: readonly BitName[],
  leftoverPrefix: string,
): string[] {
  let remaining = (value & mask) >>> 0;
  const tokens: string[] = [];
  for (const { bit, name } of names) {
    const flag = 2 ** bit;
    if ((remaining & flag) >>> 0 !== 0) {
      tokens.push(name);
      remaining = (remaining & ~flag) >>> 0;
    }
  }
  if (remaining !== 0) tokens.push(`${leftoverPrefix}_${remaining.toString(16).toUpperCase()}`);
  return tokens;
}

/**
 * Tokens of the TPL status byte: bits 0-1 BUSY/ERROR/ALARM, bit 2 POWER_LOW, bit 3 PERMANENT_ERROR,
 * bit 4 TEMPORARY_ERROR; manufacturer bits 5-7 as UNKNOWN_<HEX> of those bits (no Kamstrup lookup).
 */
export function tplStatusTokens(status: number): string[] {
  const tokens: string[] = [];
  const severity = status & 0x03;
  if (severity === 0x01) tokens.push('BUSY');
  if (severity === 0x02) tokens.push('ERROR');
  if (severity === 0x03) tokens.push('ALARM');
  if (status & 0x04) tokens.push('POWER_LOW');
  if (status & 0x08) tokens.push('PERMANENT_ERROR');
  if (status & 0x10) tokens.push('TEMPORARY_ERROR');
  const manufacturerBits = status & 0xe0;
  if (manufacturerBits !== 0)
    tokens.push(`UNKNOWN_${manufacturerBits.toString(16).toUpperCase().padStart(2, '0')}`);
  return tokens;
}

/** Sorted, de-duplicated tokens joined by single spaces; "OK" is dropped unless nothing else is set. */
export function joinStatus(tokens: readonly string[]): string {
  if (tokens.length === 0) return 'OK';
  const unique = [...new Set(tokens.filter((token) => token !== '' && token !== 'OK'))].sort();
  return unique.length === 0 ? 'OK' : unique.join(' ');
}
