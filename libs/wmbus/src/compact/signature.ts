import { crc16En13757 } from '../crc';
import type { DataRecord } from '../types';

/**
 * Signature of a compact-frame format (EN 13757-3 / spec §6): CRC-16 over the concatenated
 * DIF, DIFE, VIF and VIFE bytes of the equivalent full frame. On the wire it is sent low byte first.
 */
export function formatSignature(formatBytes: Buffer): number {
  return crc16En13757(formatBytes);
}

/**
 * The DIF/VIF string a full frame teaches: every record header in order. Manufacturer tails
 * (DIF 0x0F/0x1F, and any other 0x?F as the record parser treats them) are excluded because the signature stops at them, and 0x2F fillers never become
 * records, so they are excluded by construction.
 */
export function formatOfRecords(records: readonly DataRecord[]): Buffer {
  const headers: Buffer[] = [];
  for (const record of records) {
    const header = Buffer.from(record.header, 'hex');
    if (header.length === 0) continue;
    if ((header[0] & 0x0f) === 0x0f) break;
    headers.push(header);
  }
  return Buffer.concat(headers);
}
