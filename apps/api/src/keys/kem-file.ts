import { createDecipheriv } from 'node:crypto';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { unzipSync } from 'fflate';

/*
 * Kamstrup KEM key files, as documented by the public tools that read them (read, not copied):
 * - wmbusmeters utils/kem-import.py (PR #47, https://github.com/wmbusmeters/wmbusmeters/pull/47) and
 *   utils/kem-extract.sh, utils/XMLExtract.java, and weetmuts in wmbusmeters issue #6: a KEM file is an XML
 *   document (often inside a zip archive, as `<name>.kem` or `.kem2`) using W3C XML Encryption
 *   (http://www.w3.org/2001/04/xmlenc#aes128-cbc): the base64 of the encrypted content is in a `CipherValue`
 *   element (EncryptedData/CipherData/CipherValue).
 * - The cipher is AES-128-CBC. Key = the password's UTF-8 bytes, zero-padded to 16 bytes (XMLExtract.java:
 *   Arrays.copyOf(password, 16), so longer passwords are cut to 16 bytes); IV = the same 16 bytes. No padding
 *   scheme is applied on decryption (the tools use NoPadding / `openssl -nopad`) and strip what trails the XML.
 * - The plaintext is XML in one of two layouts: `MetersInOrder` with `Meter` elements (MeterName,
 *   ConsumptionType, MeterNo, SerialNo, VendorId, ConfigNo, TypeNo, DEK = the data encryption key), or
 *   `Devices` with `Device` elements (ShortName, ConsumptionTypeName, CustomerDeviceNumber, SerialNumber,
 *   ManufacturerId, ConfigNumber, TypeNumber, the key as the device's first `Value`). The password is often the
 *   customer id; a wrong one yields bytes that are not XML, which is how the tools detect it.
 * - The wM-Bus identification number of a Kamstrup meter is its serial number (8 decimal digits).
 */

/** Why a KEM upload cannot be read at all (as opposed to one meter in it being bad). */
export type KemFileErrorCode = 'not_kem' | 'wrong_password';

export class KemFileError extends Error {
  constructor(
    readonly code: KemFileErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'KemFileError';
  }
}

/** One meter of a decrypted KEM file, with the element names its values came from (for error reports). */
export interface KemMeter {
  serialNumber: { element: string; value: string };
  key: { element: string; value: string };
  /** The meter's name or type in the file ("MC21", "flowIQ 2101"), when given. */
  name?: string;
}

const AES_BLOCK = 16;
const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
const parser = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  isArray: (name) => name === 'Meter' || name === 'Device',
});

/** The AES-128 key (and IV) of a KEM file: the password's UTF-8 bytes, zero-padded or cut to 16 bytes. */
export function kemKeyOfPassword(password: string): Buffer {
  const key = Buffer.alloc(AES_BLOCK);
  Buffer.from(password, 'utf8').copy(key, 0, 0, AES_BLOCK);
  return key;
}

/** Reads a KEM upload (the XML itself, or a zip archive holding it) and returns its meters. */
export function readKemFile(upload: Buffer, password: string): KemMeter[] {
  const document = upload.subarray(0, 4).equals(ZIP_MAGIC) ? kemFromZip(upload) : upload;
  const plaintext = decryptKemContent(cipherValueOf(document), password);
  return metersOf(plaintext);
}

function kemFromZip(archive: Buffer): Buffer {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(archive, { filter: (file) => /\.kem2?$/i.test(file.name) });
  } catch (error) {
    throw new KemFileError('not_kem', `the zip archive cannot be read: ${(error as Error).message}`);
  }
  const names = Object.keys(files).sort();
  if (names.length === 0) throw new KemFileError('not_kem', 'the zip archive holds no .kem or .kem2 file');
  return Buffer.from(files[names[0]]);
}

function cipherValueOf(document: Buffer): Buffer {
  const xml = document.toString('utf8');
  if (XMLValidator.validate(xml) !== true) {
    throw new KemFileError('not_kem', 'the file is neither a zip archive nor an XML document');
  }
  const cipherValue = findElement(parser.parse(xml), 'CipherValue');
  if (typeof cipherValue !== 'string' || cipherValue.trim() === '') {
    throw new KemFileError(
      'not_kem',
      'the XML holds no encrypted content (EncryptedData/CipherData/CipherValue)',
    );
  }
  const ciphertext = Buffer.from(cipherValue.replace(/\s+/g, ''), 'base64');
  if (ciphertext.length === 0 || ciphertext.length % AES_BLOCK !== 0) {
    throw new KemFileError(
      'not_kem',
      `the encrypted content is ${ciphertext.length} bytes, not a whole number of AES blocks`,
    );
  }
  return ciphertext;
}

function decryptKemContent(ciphertext: Buffer, password: string): string {
  const key = kemKeyOfPassword(password);
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-128-cbc', key, key);
    decipher.setAutoPadding(false);
    plain = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } finally {
    key.fill(0);
  }
  // Whatever padding the writer used (zeros, or XML Encryption's count byte) follows the closing tag.
  const end = plain.lastIndexOf('>'.charCodeAt(0));
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(plain.subarray(0, end + 1));
  } catch {
    throw wrongPassword();
  } finally {
    plain.fill(0);
  }
  if (end < 0 || XMLValidator.validate(text) !== true) throw wrongPassword();
  return text;
}

function wrongPassword(): KemFileError {
  return new KemFileError('wrong_password', 'wrong password: the decrypted content is not XML');
}

function metersOf(xml: string): KemMeter[] {
  const root = parser.parse(xml) as Record<string, unknown>;
  const inOrder = root.MetersInOrder as { Meter?: unknown[] } | undefined;
  if (inOrder !== undefined) {
    return (inOrder.Meter ?? []).map((meter) => {
      const fields = asRecord(meter);
      return {
        serialNumber: { element: 'SerialNo', value: text(fields.SerialNo) },
        key: { element: 'DEK', value: text(fields.DEK) },
        name: optionalText(fields.MeterName),
      };
    });
  }
  const devices = root.Devices as { Device?: unknown[] } | undefined;
  if (devices !== undefined) {
    return (devices.Device ?? []).map((device) => {
      const fields = asRecord(device);
      return {
        serialNumber: { element: 'SerialNumber', value: text(fields.SerialNumber) },
        key: { element: 'Value', value: text(findElement(fields, 'Value')) },
        name: optionalText(fields.ShortName),
      };
    });
  }
  throw new KemFileError(
    'wrong_password',
    'the decrypted XML is not a KEM meter list (MetersInOrder or Devices): wrong password or unsupported file',
  );
}

/** The first element named `name`, depth first, in a parsed XML tree. */
function findElement(node: unknown, name: string): unknown {
  if (Array.isArray(node)) {
    for (const item of node) {
      const found = findElement(item, name);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (typeof node !== 'object' || node === null) return undefined;
  const record = node as Record<string, unknown>;
  if (name in record) return Array.isArray(record[name]) ? record[name][0] : record[name];
  for (const child of Object.values(record)) {
    const found = findElement(child, name);
    if (found !== undefined) return found;
  }
  return undefined;
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

function text(value: unknown): string {
  return typeof value === 'string' ? value.trim() : typeof value === 'number' ? String(value) : '';
}

function optionalText(value: unknown): string | undefined {
  const result = text(value);
  return result === '' ? undefined : result;
}

/**
 * The wM-Bus meter id of a Kamstrup serial number: its digits, left-padded with zeros to the 8 digits of the
 * identification number; undefined when it is not up to 8 decimal digits.
 */
export function meterIdOfSerialNumber(serialNumber: string): string | undefined {
  const digits = serialNumber.trim();
  if (!/^\d{1,8}$/.test(digits)) return undefined;
  return digits.padStart(8, '0');
}
