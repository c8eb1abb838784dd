import { parseHex, toHex } from '../hex';
import { KNOWN_COMPACT_FORMATS } from './known-formats';
import { formatSignature } from './signature';

export type CompactFormatSource = 'builtin' | 'learned';

export interface CompactFormatEntry {
  /** Three-letter manufacturer code as decoded from the M-field ("KAM"). */
  manufacturer: string;
  deviceType: number;
  /** CRC-16 of `format` (spec §6). */
  signature: number;
  /** DIF/VIF byte string, upper-case hex. */
  format: string;
  source: CompactFormatSource;
  /** ISO-8601 time the format was learned from a full frame (learned entries only). */
  learnedAt?: string;
}

export interface CompactFormatStoreJson {
  version: 1;
  formats: CompactFormatEntry[];
}

interface StoredFormat {
  entry: CompactFormatEntry;
  bytes: Buffer;
}

const JSON_VERSION = 1;
const MANUFACTURER_RE = /^[@-_]{3}$/;
const ISO_TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

/**
 * 15-bit manufacturer code from its three letters (each letter is 64 + a 5-bit value), or -1 when
 * the text cannot be a manufacturer code. Numbers keep the hot-path map key cheap to build.
 */
function manufacturerCode(manufacturer: string): number {
  if (manufacturer.length !== 3) return -1;
  let code = 0;
  for (let i = 0; i < 3; i++) {
    const c = manufacturer.charCodeAt(i);
    if (c < 64 || c > 95) return -1;
    code = (code << 5) | (c - 64);
  }
  return code;
}

/** manufacturer (15 bits) | device type (8 bits) | signature (16 bits): 39 bits, a safe integer. */
function storeKey(manufacturer: number, deviceType: number, signature: number): number {
  return manufacturer * 0x1000000 + deviceType * 0x10000 + signature;
}

function describe(entry: Pick<CompactFormatEntry, 'manufacturer' | 'deviceType' | 'signature'>): string {
  const type = entry.deviceType.toString(16).toUpperCase().padStart(2, '0');
  const signature = entry.signature.toString(16).toUpperCase().padStart(4, '0');
  return `${entry.manufacturer}/0x${type} signature 0x${signature}`;
}

/**
 * Compact-frame formats keyed by manufacturer + device type + signature. Unlike wmbusmeters' single
 * process-wide learned table, a format learned from one meter type never decodes another type's
 * compact frames, even when their signatures collide.
 */
export class CompactFormatStore {
  private readonly formats = new Map<number, StoredFormat>();
  private readonly listeners: Array<(entry: CompactFormatEntry) => void> = [];

  /**
   * A store preloaded with the formats wmbusmeters' drivers pre-declare (KNOWN_COMPACT_FORMATS: Kamstrup
   * water and heat, Engelmann FAW), each under every manufacturer × device type of its table row.
   */
  static withKnownFormats(): CompactFormatStore {
    const store = new CompactFormatStore();
    for (const known of KNOWN_COMPACT_FORMATS) {
      for (const manufacturer of known.manufacturers) {
        for (const deviceType of known.deviceTypes) {
          for (const format of known.formats) {
            store.add({
              manufacturer,
              deviceType,
              signature: formatSignature(Buffer.from(format, 'hex')),
              format,
              source: 'builtin',
            });
          }
        }
      }
    }
    return store;
  }

  /**
   * Rebuilds a store from `toJSON()` output (e.g. read back from a database or file). Every entry is
   * validated; the first bad one aborts with an error naming the entry and the field.
   */
  static fromJSON(json: unknown): CompactFormatStore {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new Error('compact formats JSON: expected an object with "version" and "formats"');
    }
    const { version, formats } = json as Record<string, unknown>;
    if (version !== JSON_VERSION) {
      throw new Error(`compact formats JSON: unsupported version ${JSON.stringify(version)} (expected 1)`);
    }
    if (!Array.isArray(formats)) {
      throw new Error('compact formats JSON: "formats" must be an array');
    }
    const store = new CompactFormatStore();
    formats.forEach((raw, index) => {
      const entry = validateEntry(raw, `formats[${index}]`);
      try {
        store.add(entry);
      } catch (error) {
        throw new Error(`compact formats JSON: formats[${index}]: ${(error as Error).message}`, {
          cause: error,
        });
      }
    });
    return store;
  }

  /**
   * The stored DIF/VIF bytes for a compact frame's signature, or undefined when unknown. The returned
   * buffer is the store's own copy: callers read it, never modify it.
   */
  lookup(manufacturer: string, deviceType: number, signature: number): Buffer | undefined {
    const code = manufacturerCode(manufacturer);
    if (code < 0) return undefined;
    return this.formats.get(storeKey(code, deviceType & 0xff, signature & 0xffff))?.bytes;
  }

  /**
   * Records the DIF/VIF string of a full frame. The first format seen for a signature wins (as in
   * wmbusmeters); returns true when the format was new, after notifying the listeners.
   */
  learn(manufacturer: string, deviceType: number, formatBytes: Buffer): boolean {
    const code = manufacturerCode(manufacturer);
    if (code < 0) throw new Error(`cannot learn compact format: invalid manufacturer "${manufacturer}"`);
    checkDeviceType(deviceType);
    if (formatBytes.length === 0) throw new Error('cannot learn compact format: empty DIF/VIF string');
    const signature = formatSignature(formatBytes);
    const key = storeKey(code, deviceType, signature);
    if (this.formats.has(key)) return false;
    const bytes = Buffer.from(formatBytes);
    const entry: CompactFormatEntry = {
      manufacturer,
      deviceType,
      signature,
      format: toHex(bytes),
      source: 'learned',
      learnedAt: new Date().toISOString(),
    };
    this.formats.set(key, { entry, bytes });
    this.notify(entry);
    return true;
  }

  /**
   * Called synchronously for every newly learned format (not for `add`), so a service can persist it.
   * Every listener runs even if an earlier one throws; the first error is rethrown afterwards and the
   * format stays learned.
   */
  onLearned(listener: (entry: CompactFormatEntry) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Adds an entry as it was persisted. Re-adding an identical format is a no-op; a different format
   * under an existing signature is a conflict and throws.
   */
  add(entry: CompactFormatEntry): void {
    const checked = validateEntry(entry, 'entry');
    const key = storeKey(manufacturerCode(checked.manufacturer), checked.deviceType, checked.signature);
    const existing = this.formats.get(key);
    if (existing) {
      if (existing.entry.format === checked.format) return;
      throw new Error(
        `${describe(checked)} already holds format ${existing.entry.format}, refusing ${checked.format}`,
      );
    }
    this.formats.set(key, { entry: checked, bytes: Buffer.from(checked.format, 'hex') });
  }

  entries(): CompactFormatEntry[] {
    return [...this.formats.values()].map(({ entry }) => ({ ...entry }));
  }

  get size(): number {
    return this.formats.size;
  }

  toJSON(): CompactFormatStoreJson {
    return { version: JSON_VERSION, formats: this.entries() };
  }

  private notify(entry: CompactFormatEntry): void {
    let firstError: unknown;
    let failed = false;
    for (const listener of this.listeners) {
      try {
        listener({ ...entry });
      } catch (error) {
        if (!failed) firstError = error;
        failed = true;
      }
    }
    if (failed) throw firstError;
  }
}

function checkDeviceType(deviceType: number): void {
  if (!Number.isInteger(deviceType) || deviceType < 0 || deviceType > 0xff) {
    throw new Error(`invalid device type ${String(deviceType)} (expected an integer 0..255)`);
  }
}

/** Validates one entry and returns a normalised copy (format in upper-case hex). */
function validateEntry(raw: unknown, where: string): CompactFormatEntry {
  const fail = (field: string, why: string): never => {
    throw new Error(`compact format ${where}.${field}: ${why}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`compact format ${where}: expected an object`);
  }
  const { manufacturer, deviceType, signature, format, source, learnedAt } = raw as Record<string, unknown>;
  if (typeof manufacturer !== 'string' || !MANUFACTURER_RE.test(manufacturer)) {
    fail('manufacturer', `expected three manufacturer letters, got ${JSON.stringify(manufacturer)}`);
  }
  if (
    typeof deviceType !== 'number' ||
    !Number.isInteger(deviceType) ||
    deviceType < 0 ||
    deviceType > 0xff
  ) {
    fail('deviceType', `expected an integer 0..255, got ${JSON.stringify(deviceType)}`);
  }
  if (typeof format !== 'string') fail('format', 'expected a hex string');
  const bytes = parseHex(format as string);
  if (!bytes) fail('format', `not hex: ${JSON.stringify(format)}`);
  const computed = formatSignature(bytes as Buffer);
  if (typeof signature !== 'number' || !Number.isInteger(signature) || signature < 0 || signature > 0xffff) {
    fail('signature', `expected an integer 0..65535, got ${JSON.stringify(signature)}`);
  }
  if (signature !== computed) {
    fail(
      'signature',
      `0x${(signature as number).toString(16).toUpperCase()} does not match the format ` +
        `(its CRC is 0x${computed.toString(16).toUpperCase()})`,
    );
  }
  if (source !== 'builtin' && source !== 'learned') {
    fail('source', `expected "builtin" or "learned", got ${JSON.stringify(source)}`);
  }
  if (learnedAt !== undefined && (typeof learnedAt !== 'string' || !ISO_TIME_RE.test(learnedAt))) {
    fail('learnedAt', `expected an ISO-8601 time, got ${JSON.stringify(learnedAt)}`);
  }
  const entry: CompactFormatEntry = {
    manufacturer: manufacturer as string,
    deviceType: deviceType as number,
    signature: computed,
    format: toHex(bytes as Buffer),
    source: source as CompactFormatSource,
  };
  if (learnedAt !== undefined) entry.learnedAt = learnedAt as string;
  return entry;
}
