import { CompactFormatStore, encodeTelegram } from '@hes/wmbus';
import type { DecodeOptions, EncodeInput } from '@hes/wmbus';

/**
 * Deterministic benchmark telegrams: `meters` meters, each with its own AES-128 key, sending the three
 * frame shapes the head-end sees most. The main thread and the pool workers build the same key table
 * from the same seed, so only telegram bytes cross thread boundaries.
 */
export type FrameKind = 'kamstrup-compact' | 'kamstrup-full' | 'oms-mode5';
export const FRAME_KINDS: FrameKind[] = ['kamstrup-compact', 'kamstrup-full', 'oms-mode5'];

export interface Meter {
  id: string;
  key: Buffer;
}

/** xorshift32: reproducible bytes for ids, keys and readings. */
function xorshift(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

export function makeMeters(count: number, seed = 0x4b414d): Meter[] {
  const next = xorshift(seed);
  const meters: Meter[] = [];
  for (let i = 0; i < count; i++) {
    const key = Buffer.alloc(16);
    for (let j = 0; j < 16; j += 4) key.writeUInt32LE(next(), j);
    meters.push({ id: String(10_000_000 + i).padStart(8, '0'), key });
  }
  return meters;
}

function kamstrupRecords(litres: number): EncodeInput['records'] {
  return [
    { dif: 0x02, vif: 0xff, vifes: [0x20], raw: Buffer.from('7100', 'hex') },
    { dif: 0x04, vif: 0x13, value: litres / 1000 },
    { dif: 0x44, vif: 0x13, value: (litres - 250) / 1000 },
    { dif: 0x61, vif: 0x5b, value: 12 },
    { dif: 0x61, vif: 0x67, value: 19 },
  ];
}

/** A typical OMS water meter reading: volume, flow, flow temperature, date-time. */
function omsRecords(litres: number): EncodeInput['records'] {
  return [
    { dif: 0x04, vif: 0x13, value: litres / 1000 },
    { dif: 0x02, vif: 0x3b, value: 0.12 },
    { dif: 0x02, vif: 0x5a, value: 15.3 },
    { dif: 0x04, vif: 0x6d, value: '2026-03-01 08:15' },
  ];
}

export function makeTelegrams(kind: FrameKind, meters: Meter[], count: number): Buffer[] {
  const telegrams: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const meter = meters[i % meters.length];
    const litres = 100_000 + i * 7;
    const kamstrup = kind !== 'oms-mode5';
    telegrams.push(
      encodeTelegram({
        manufacturer: kamstrup ? 'KAM' : 'ABC',
        id: meter.id,
        version: kamstrup ? 0x1b : 0x01,
        deviceType: kamstrup ? 0x16 : 0x07,
        frame: kind,
        accessNumber: i & 0xff,
        sessionNumber: kamstrup ? i & 0xfffff : undefined,
        key: meter.key,
        records: kamstrup ? kamstrupRecords(litres) : omsRecords(litres),
      }),
    );
  }
  return telegrams;
}

/** Decode options as a decryptor uses them: key lookup by meter id, and the compact-format store. */
export function decodeOptionsFor(meters: Meter[]): DecodeOptions {
  const keys = new Map(meters.map((m) => [m.id, m.key]));
  return { key: (id) => keys.get(id), formats: CompactFormatStore.withKnownFormats() };
}

/** Telegrams packed into one transferable buffer: what a batch task carries to a worker. */
export interface PackedBatch {
  bytes: Uint8Array;
  /** End offset of each telegram in `bytes`. */
  ends: Uint32Array;
}

export function pack(telegrams: Buffer[]): PackedBatch {
  const ends = new Uint32Array(telegrams.length);
  let total = 0;
  telegrams.forEach((t, i) => {
    total += t.length;
    ends[i] = total;
  });
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const t of telegrams) {
    bytes.set(t, at);
    at += t.length;
  }
  return { bytes, ends };
}
