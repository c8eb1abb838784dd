import { createCipheriv, type Cipher } from 'node:crypto';
import {
  crc16En13757,
  ellCtrIv,
  encodeTelegram,
  idToWire,
  manufacturerToCode,
  type EncodeInput,
  type RecordSpec,
} from '@hes/wmbus';
import type { SimulatedMeter } from './fleet';
import { infoCode, type MeterState } from './meter-state';

export type FrameKind = 'kamstrup-full' | 'kamstrup-compact' | 'oms-mode5';

/** A Kamstrup meter sends its full frame on every FULL_FRAME_EVERY-th transmission, compact ones between. */
export const FULL_FRAME_EVERY = 8;

/**
 * The frame a meter's `transmission`-th telegram (1-based, the state's count after advancing) uses:
 * Kamstrup meters start with a full frame and repeat it every 8th time.
 */
export function frameKindOf(meter: SimulatedMeter, transmission: number): FrameKind {
  if (meter.model.kind === 'oms') return 'oms-mode5';
  return (transmission - 1) % FULL_FRAME_EVERY === 0 ? 'kamstrup-full' : 'kamstrup-compact';
}

function uint32(value: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32LE(value >>> 0, 0);
  return out;
}

function int8(value: number): Buffer {
  const out = Buffer.allocUnsafe(1);
  out.writeInt8(value, 0);
  return out;
}

function uint16(value: number): Buffer {
  const out = Buffer.allocUnsafe(2);
  out.writeUInt16LE(value & 0xffff, 0);
  return out;
}

/** "YYYY-MM-DD HH:MM" in UTC, the type F date-time the OMS meter reports. */
function dateTimeMinutes(time: number): string {
  return new Date(time).toISOString().slice(0, 16).replace('T', ' ');
}

/** Whole litres on the register: the meter shows the floor, so the value never decreases. */
export function registerLitres(state: MeterState): number {
  return Math.floor(state.litres);
}

/** Records of a flowIQ 2101 telegram, full and compact alike (builtin compact format 02FF20 0413 4413 615B 6167). */
function kamstrupRecords(state: MeterState): RecordSpec[] {
  return [
    { dif: 0x02, vif: 0xff, vifes: [0x20], raw: uint16(infoCode(state)) },
    { dif: 0x04, vif: 0x13, raw: uint32(registerLitres(state)) },
    { dif: 0x44, vif: 0x13, raw: uint32(state.targetLitres) },
    { dif: 0x61, vif: 0x5b, raw: int8(state.flowTemperatureC) },
    { dif: 0x61, vif: 0x67, raw: int8(state.externalTemperatureC) },
  ];
}

/** Current date-time, volume, and the due date with its volume: a typical OMS water meter telegram. */
function omsRecords(state: MeterState): RecordSpec[] {
  return [
    { dif: 0x04, vif: 0x6d, value: dateTimeMinutes(state.time) },
    { dif: 0x04, vif: 0x13, raw: uint32(registerLitres(state)) },
    { dif: 0x42, vif: 0x6c, value: state.targetDate },
    { dif: 0x44, vif: 0x13, raw: uint32(state.targetLitres) },
  ];
}

/** The encodeTelegram input for a meter's current state: the reference the fast Kamstrup path must match. */
export function encodeInputOf(meter: SimulatedMeter, state: MeterState): EncodeInput {
  const input: EncodeInput = {
    manufacturer: meter.model.manufacturer,
    id: meter.id,
    version: meter.model.version,
    deviceType: meter.model.deviceType,
    frame: frameKindOf(meter, state.transmissions),
    accessNumber: accessNumberOf(state),
    key: meter.key,
    records: meter.model.kind === 'oms' ? omsRecords(state) : kamstrupRecords(state),
  };
  if (meter.model.kind === 'kamstrup') input.sessionNumber = sessionNumberOf(meter, state);
  return input;
}

/** ELL session number (low 29 bits): advances with every transmission, from a per-meter and per-run offset. */
function sessionNumberOf(meter: SimulatedMeter, state: MeterState): number {
  return (meter.seed + state.sessionBase + state.transmissions) & 0x1fffffff;
}

/** Also offset per run: an OMS telegram has no session number, and its date-time only has minutes. */
function accessNumberOf(state: MeterState): number {
  return (state.sessionBase + state.transmissions) & 0xff;
}

/**
 * The telegram a meter sends in its current state, encrypted with its key (AES-128-CTR for Kamstrup,
 * mode 5 CBC for OMS). The access number and the ELL session number follow the transmission count, so
 * no two telegrams of a meter have the same bytes (gateways' duplicates are the only exact repeats).
 */
export function buildTelegram(meter: SimulatedMeter, state: MeterState): { frame: FrameKind; bytes: Buffer } {
  const frame = frameKindOf(meter, state.transmissions);
  const bytes =
    meter.model.kind === 'kamstrup'
      ? kamstrupTelegram(meter, state, frame)
      : encodeTelegram(encodeInputOf(meter, state));
  return { frame, bytes };
}

/**
 * Kamstrup frames at load-generator speed. encodeTelegram builds a frame from record specs (parsing the
 * headers, deriving the compact format) at ~15 us; the simulator's Kamstrup layout never changes, so the
 * same bytes are written here directly into one buffer with the codec's own CRC, IV and AES-CTR
 * functions (~3x faster). The unit tests check every byte against encodeTelegram.
 */
const KAMSTRUP_FORMAT = Buffer.from('02FF2004134413615B6167', 'hex');
const KAMSTRUP_SIGNATURE = crc16En13757(KAMSTRUP_FORMAT);
const DLL_LENGTH = 10;
const ELL_LENGTH = 7;
const SN_OFFSET = DLL_LENGTH + 3;
const PAYLOAD_OFFSET = DLL_LENGTH + ELL_LENGTH;
const TPL_OFFSET = PAYLOAD_OFFSET + 2;
/** 02FF20 + 2, 0413 + 4, 4413 + 4, 615B + 1, 6167 + 1. */
const FULL_APL_LENGTH = 23;
const COMPACT_DATA_LENGTH = 12;
const ELL_II = 0x8d;
const KAMSTRUP_CC = 0x20;
const ELL_AES_CTR_BITS = 0x20000000;
const CI_FULL = 0x78;
const CI_COMPACT = 0x79;
const SND_NR = 0x44;

/** The 10 DLL bytes of each meter after L (the same for every telegram), built on first use. */
const dllByMeter = new WeakMap<SimulatedMeter, Buffer>();

function dllOf(meter: SimulatedMeter): Buffer {
  let dll = dllByMeter.get(meter);
  if (!dll) {
    dll = Buffer.alloc(DLL_LENGTH);
    dll[1] = SND_NR;
    dll.writeUInt16LE(manufacturerToCode(meter.model.manufacturer), 2);
    idToWire(meter.id).copy(dll, 4);
    dll[8] = meter.model.version;
    dll[9] = meter.model.deviceType;
    dllByMeter.set(meter, dll);
  }
  return dll;
}

/** The full APL (what the compact frame's second CRC covers), written at `at`. */
function writeKamstrupApl(out: Buffer, at: number, state: MeterState): void {
  KAMSTRUP_FORMAT.copy(out, at, 0, 3);
  out.writeUInt16LE(infoCode(state) & 0xffff, at + 3);
  KAMSTRUP_FORMAT.copy(out, at + 5, 3, 5);
  out.writeUInt32LE(registerLitres(state) >>> 0, at + 7);
  KAMSTRUP_FORMAT.copy(out, at + 11, 5, 7);
  out.writeUInt32LE(state.targetLitres >>> 0, at + 13);
  KAMSTRUP_FORMAT.copy(out, at + 17, 7, 9);
  out.writeInt8(state.flowTemperatureC, at + 19);
  KAMSTRUP_FORMAT.copy(out, at + 20, 9, 11);
  out.writeInt8(state.externalTemperatureC, at + 22);
}

const scratchApl = Buffer.alloc(FULL_APL_LENGTH);

function kamstrupTelegram(meter: SimulatedMeter, state: MeterState, frame: FrameKind): Buffer {
  const full = frame === 'kamstrup-full';
  const tplLength = full ? 1 + FULL_APL_LENGTH : 1 + 4 + COMPACT_DATA_LENGTH;
  const out = Buffer.allocUnsafe(TPL_OFFSET + tplLength);
  dllOf(meter).copy(out, 0);
  out[0] = out.length - 1;
  out[DLL_LENGTH] = ELL_II;
  out[DLL_LENGTH + 1] = KAMSTRUP_CC;
  out[DLL_LENGTH + 2] = accessNumberOf(state);
  out.writeUInt32LE((sessionNumberOf(meter, state) | ELL_AES_CTR_BITS) >>> 0, SN_OFFSET);
  if (full) {
    out[TPL_OFFSET] = CI_FULL;
    writeKamstrupApl(out, TPL_OFFSET + 1, state);
  } else {
    writeKamstrupApl(scratchApl, 0, state);
    out[TPL_OFFSET] = CI_COMPACT;
    out.writeUInt16LE(KAMSTRUP_SIGNATURE, TPL_OFFSET + 1);
    out.writeUInt16LE(crc16En13757(scratchApl), TPL_OFFSET + 3);
    // Data bytes only: info code, volume, target volume, the two temperatures.
    scratchApl.copy(out, TPL_OFFSET + 5, 3, 5);
    scratchApl.copy(out, TPL_OFFSET + 7, 7, 11);
    scratchApl.copy(out, TPL_OFFSET + 11, 13, 17);
    out[TPL_OFFSET + 15] = scratchApl[19];
    out[TPL_OFFSET + 16] = scratchApl[22];
  }
  out.writeUInt16LE(crc16En13757(out, TPL_OFFSET), PAYLOAD_OFFSET);
  encryptCtrInPlace(meter, ellCtrIv(out, KAMSTRUP_CC, SN_OFFSET), out, PAYLOAD_OFFSET);
  return out;
}

/**
 * Each meter's AES-128-ECB context, made on its first telegram and kept for the run. The codec's shared
 * context cache is an LRU of 32,768 keys: a fleet larger than that, sent round-robin, missed it on every
 * telegram, and creating a context costs more than the AES work on a telegram (≈ 1.5 KB of native memory
 * per meter is the price: ≈ 150 MB for 100,000 meters).
 */
const cipherByMeter = new WeakMap<SimulatedMeter, Cipher>();

function cipherOf(meter: SimulatedMeter): Cipher {
  let cipher = cipherByMeter.get(meter);
  if (!cipher) {
    cipher = createCipheriv('aes-128-ecb', meter.key, null);
    cipher.setAutoPadding(false);
    cipherByMeter.set(meter, cipher);
  }
  return cipher;
}

const AES_BLOCK = 16;
/** Counter blocks of the telegram being built (synchronous, so one buffer serves every telegram). */
let counterScratch = Buffer.alloc(2 * AES_BLOCK);

/**
 * The ELL's AES-128-CTR over `out` from `from` to its end, in place (the last keystream block truncated).
 * The ELL IV ends with the frame number (0 here) and the block counter byte (0), and the counter counts
 * blocks in that last byte: a Kamstrup payload has 2 blocks. ECB without padding keeps no state between
 * whole-block `update()` calls, which is why one context per meter serves all its telegrams.
 */
function encryptCtrInPlace(meter: SimulatedMeter, iv: Buffer, out: Buffer, from: number): void {
  const blocks = Math.ceil((out.length - from) / AES_BLOCK);
  if (counterScratch.length < blocks * AES_BLOCK) counterScratch = Buffer.alloc(blocks * AES_BLOCK);
  const counters = counterScratch.subarray(0, blocks * AES_BLOCK);
  for (let block = 0; block < blocks; block++) {
    iv.copy(counters, block * AES_BLOCK);
    counters[block * AES_BLOCK + AES_BLOCK - 1] = block;
  }
  const keystream = cipherOf(meter).update(counters);
  for (let i = from; i < out.length; i++) out[i] ^= keystream[i - from];
}
