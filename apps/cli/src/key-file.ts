import { readFileSync } from 'node:fs';
import { UsageError } from './cli-io';

const METER_ID_RE = /^[0-9A-Fa-f]{8}$/;
const AES128_KEY_RE = /^[0-9A-Fa-f]{32}$/;
const HEADER_RE = /^meter_id\s*,\s*key(?:_hex)?$/i;

/**
 * Parses a key file: CSV `meter_id,key_hex`, one meter per line, an optional header line, blank lines
 * and `#` comments ignored. Meter ids are 8 hex digits as wmbusmeters prints them; keys are AES-128
 * (32 hex digits). Errors name the file and line but never echo a key.
 */
export function parseKeyFile(text: string, fileName: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  const lineOfMeter = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  let sawData = false;
  lines.forEach((raw, index) => {
    const lineNumber = index + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (!sawData && HEADER_RE.test(line)) {
      sawData = true;
      return;
    }
    sawData = true;
    const fail = (why: string): never => {
      throw new UsageError(`keys file ${fileName} line ${lineNumber}: ${why}`);
    };
    const cells = line.split(',').map((cell) => cell.trim());
    if (cells.length !== 2) fail(`expected 2 columns "meter_id,key_hex", found ${cells.length}`);
    const [meterId, keyHex] = cells;
    if (!METER_ID_RE.test(meterId)) fail(`meter_id ${JSON.stringify(meterId)} is not 8 hex digits`);
    const id = meterId.toUpperCase();
    if (!AES128_KEY_RE.test(keyHex)) {
      fail(`key for meter ${id} is not 32 hex digits (AES-128); it has ${keyHex.length} characters`);
    }
    const previous = lineOfMeter.get(id);
    if (previous !== undefined) fail(`meter ${id} already has a key on line ${previous}`);
    lineOfMeter.set(id, lineNumber);
    keys.set(id, Buffer.from(keyHex, 'hex'));
  });
  return keys;
}

export function readKeyFile(path: string): Map<string, Buffer> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      `cannot read keys file ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  return parseKeyFile(text, path);
}
