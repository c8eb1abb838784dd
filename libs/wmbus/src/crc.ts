/**
 * CRC-16/EN-13757: polynomial 0x3D65, init 0, MSB first, no reflection, result inverted.
 * One function serves every use in the protocol (data-link blocks, ELL payload CRC, compact-frame
 * signatures, the handheld reader's frame CRC); only the byte order on the wire differs by use.
 */
const TABLE = buildTable();

function buildTable(): Uint16Array {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x3d65) & 0xffff : (crc << 1) & 0xffff;
    }
    table[i] = crc;
  }
  return table;
}

/** CRC over `bytes[start, end)`. */
export function crc16En13757(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ bytes[i]) & 0xff];
  }
  return ~crc & 0xffff;
}
