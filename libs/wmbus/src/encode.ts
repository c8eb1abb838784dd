import { formatOfRecords } from './compact';
import { crc16En13757 } from './crc';
import { idToWire, manufacturerToCode } from './dll';
import { ELL_II, ellCtrIv } from './ell';
import { addFrameCrcs } from './frame';
import { encodeRecords, parseRecords } from './records';
import type { RecordSpec } from './records';
import { aesCtr } from './security/ctr';
import { cbcEncrypt } from './security/cbc';
import { CI_NONE, CI_NONE_COMPACT, CI_SHORT, SECURITY_AES_CBC_IV } from './tpl';

/**
 * Builds telegrams for the simulator, benchmarks and round-trip tests. Frames:
 * - 'kamstrup-full' / 'kamstrup-compact': DLL + ELL II (CC 0x20, AES-128-CTR when a key is given) +
 *   CI 0x78 full APL / CI 0x79 signature, full-frame CRC and data only — the MULTICAL 21 / flowIQ shape;
 * - 'oms-mode5': DLL + TPL short header (CI 0x7A), AES-128-CBC mode 5 when a key is given;
 * - 'plain': DLL + TPL short header, no security.
 * Throws RangeError on input it cannot encode (it is a builder, not a hot path).
 */
export interface EncodeInput {
  manufacturer: string;
  id: string;
  version: number;
  deviceType: number;
  frame: 'kamstrup-full' | 'kamstrup-compact' | 'oms-mode5' | 'plain';
  accessNumber: number;
  key?: Buffer;
  records: RecordSpec[];
  withDllCrc?: 'A' | 'B';
  /** ELL session number field, low 29 bits (session and time); the encryption bits are set from `key`. */
  sessionNumber?: number;
}

const SND_NR = 0x44;
const KAMSTRUP_CC = 0x20;
const ELL_AES_CTR_BITS = 0x20000000;
const AES_BLOCK = 16;
const FILLER = 0x2f;
/** Largest L-field value: a wM-Bus frame is at most 256 bytes including L. */
const MAX_L = 0xff;

export function encodeTelegram(input: EncodeInput): Buffer {
  checkByte('version', input.version);
  checkByte('deviceType', input.deviceType);
  checkByte('accessNumber', input.accessNumber);
  if (input.key && input.key.length !== AES_BLOCK) {
    throw new RangeError(`key must be 16 bytes (AES-128), got ${input.key.length}`);
  }
  const dll = Buffer.alloc(10);
  dll[1] = SND_NR;
  dll.writeUInt16LE(manufacturerToCode(input.manufacturer), 2);
  idToWire(input.id).copy(dll, 4);
  dll[8] = input.version;
  dll[9] = input.deviceType;

  const apl = encodeRecords(input.records);
  let frame: Buffer;
  switch (input.frame) {
    case 'kamstrup-full':
      frame = kamstrupFrame(dll, input, Buffer.concat([Buffer.from([CI_NONE]), apl]));
      break;
    case 'kamstrup-compact':
      frame = kamstrupFrame(dll, input, Buffer.concat([Buffer.from([CI_NONE_COMPACT]), compactApl(apl)]));
      break;
    case 'oms-mode5':
    case 'plain':
      frame = tplShortFrame(dll, input, apl);
      break;
    default:
      throw new RangeError(`unknown frame kind "${String((input as { frame: unknown }).frame)}"`);
  }
  if (frame.length - 1 > MAX_L) {
    throw new RangeError(
      `telegram would be ${frame.length} bytes; a wM-Bus frame holds at most ${MAX_L + 1}`,
    );
  }
  frame[0] = frame.length - 1;
  return input.withDllCrc ? addFrameCrcs(frame, input.withDllCrc) : frame;
}

function checkByte(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) {
    throw new RangeError(`${name} must be an integer 0..255, got ${value}`);
  }
}

/** DLL + ELL II; `tpl` (CI and APL) is preceded by the payload CRC and encrypted with AES-CTR if keyed. */
function kamstrupFrame(dll: Buffer, input: EncodeInput, tpl: Buffer): Buffer {
  const session = input.sessionNumber ?? 0;
  if (!Number.isInteger(session) || session < 0 || session >= ELL_AES_CTR_BITS) {
    throw new RangeError(`sessionNumber must be an integer 0..2^29-1, got ${session}`);
  }
  const ell = Buffer.alloc(7);
  ell[0] = ELL_II;
  ell[1] = KAMSTRUP_CC;
  ell[2] = input.accessNumber;
  ell.writeUInt32LE((session | (input.key ? ELL_AES_CTR_BITS : 0)) >>> 0, 3);
  const payload = Buffer.alloc(2 + tpl.length);
  payload.writeUInt16LE(crc16En13757(tpl), 0);
  tpl.copy(payload, 2);
  const frame = Buffer.concat([dll, ell, payload]);
  if (input.key) {
    const payloadStart = dll.length + ell.length;
    const iv = ellCtrIv(frame, KAMSTRUP_CC, dll.length + 3);
    aesCtr(input.key, iv, frame.subarray(payloadStart)).copy(frame, payloadStart);
  }
  return frame;
}

/** Compact APL: signature(2) ‖ full-frame CRC(2) ‖ data bytes only, both CRCs low byte first. */
function compactApl(fullApl: Buffer): Buffer {
  const parsed = parseRecords(fullApl);
  if (parsed.error) throw new RangeError(`records cannot be encoded compactly: ${parsed.error.message}`);
  const format = formatOfRecords(parsed.records);
  const data: Buffer[] = [];
  for (const record of parsed.records) {
    const dif = Buffer.from(record.header, 'hex')[0];
    if ((dif & 0x0f) === 0x0f)
      throw new RangeError('a compact frame cannot carry a manufacturer tail (DIF 0x0F/0x1F)');
    data.push(Buffer.from(record.raw, 'hex'));
  }
  const head = Buffer.alloc(4);
  head.writeUInt16LE(crc16En13757(format), 0);
  head.writeUInt16LE(crc16En13757(fullApl), 2);
  return Buffer.concat([head, ...data]);
}

/** DLL + CI 0x7A ACC STS CFG; mode 5 (all blocks encrypted, 2F-padded) when keyed. */
function tplShortFrame(dll: Buffer, input: EncodeInput, apl: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header[0] = CI_SHORT;
  header[1] = input.accessNumber;
  header[2] = 0x00;
  if (input.frame === 'plain' || !input.key) {
    if (input.frame === 'oms-mode5' && !input.key) throw new RangeError('oms-mode5 needs a key');
    return Buffer.concat([dll, header, apl]);
  }
  const plainLength = 2 + apl.length;
  const blocks = Math.ceil(plainLength / AES_BLOCK);
  if (blocks > 0x0f)
    throw new RangeError(`mode 5 payload of ${blocks} blocks exceeds the 15 CFG can declare`);
  const plain = Buffer.alloc(blocks * AES_BLOCK, FILLER);
  apl.copy(plain, 2);
  header.writeUInt16LE((SECURITY_AES_CBC_IV << 8) | (blocks << 4), 3);
  const iv = Buffer.alloc(AES_BLOCK, input.accessNumber);
  dll.copy(iv, 0, 2, 10);
  return Buffer.concat([dll, header, cbcEncrypt(input.key, iv, plain)]);
}
