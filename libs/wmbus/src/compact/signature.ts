import { crc16En13757 } from '../crc';
import type { DataRecord } from '../types';

/**
 * Signature of a compact-frame format (EN 13757-3 / spec §6): CRC-16 over the concatenated
 * DIF, DIFE, VIF and VIFE bytes of the equivalent full frame. On the wire it is sent low byte first.
 */
export function formatSignature(formatBytes: Buffer): number {
  return crc16En13757(formatBytes);
}

/** Backing store of formatOfRecordsView: one per thread, grown on demand, reused for every telegram. */
let formatScratch = Buffer.alloc(256);

/**
 * The DIF/VIF string a full frame teaches: every record header in order. Manufacturer tails
 * (DIF 0x0F/0x1F, and any other 0x?F as the record parser treats them) are excluded because the
 * signature stops at them, and 0x2F fillers never become records, so they are excluded by construction.
 *
 * Returns a view of a shared scratch buffer that the next call overwrites: the decoder learns from
 * every full frame, and building a fresh Buffer each time showed up in its profile. Copy it to keep it
 * (CompactFormatStore.learn does).
 */
export function formatOfRecordsView(records: readonly DataRecord[]): Buffer {
  let needed = 0;
  for (const record of records) needed += record.header.length >> 1;
  if (formatScratch.length < needed) formatScratch = Buffer.alloc(needed);
  let length = 0;
  for (const record of records) {
    const header = record.header;
    if (header.length === 0) continue;
    // DIF low nibble F: the second hex digit of the header.
    const difLowNibble = header.charCodeAt(1);
    if (difLowNibble === 0x46 || difLowNibble === 0x66) break;
    length += formatScratch.write(header, length, 'hex');
  }
  return formatScratch.subarray(0, length);
}

/** As formatOfRecordsView, as a Buffer of its own. */
export function formatOfRecords(records: readonly DataRecord[]): Buffer {
  return Buffer.from(formatOfRecordsView(records));
}
