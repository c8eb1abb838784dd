/**
 * Builds Kamstrup KEM files for tests with the construction documented in kem-file.ts: the meter list as XML,
 * AES-128-CBC with key = IV = the zero-padded password, base64 in an XML Encryption CipherValue, optionally zipped.
 */
import { createCipheriv } from 'node:crypto';
import { zipSync } from 'fflate';
import { kemKeyOfPassword } from './kem-file';

export interface KemTestMeter {
  serialNumber: string;
  key: string;
  name?: string;
}

export interface KemTestFile {
  password: string;
  meters: KemTestMeter[];
  /** The plaintext layout: the older MetersInOrder/Meter or the newer Devices/Device. */
  layout?: 'MetersInOrder' | 'Devices';
  /** Zero bytes (what the public tools strip) or XML Encryption's padding (count in the last byte). */
  padding?: 'zeros' | 'xmlenc';
  /** Inside a zip archive, under this file name. */
  zipAs?: string;
}

function meterListXml(file: KemTestFile): string {
  if ((file.layout ?? 'MetersInOrder') === 'MetersInOrder') {
    const meters = file.meters.map(
      (meter, index) =>
        `<Meter><MeterName>${meter.name ?? 'MC21'}</MeterName><ConsumptionType>VolumeCold</ConsumptionType>` +
        `<MeterNo>${index + 1}</MeterNo><SerialNo>${meter.serialNumber}</SerialNo><VendorId>KAM</VendorId>` +
        `<ConfigNo>0100200023533</ConfigNo><TypeNo>021A1C0K879</TypeNo><DEK>${meter.key}</DEK></Meter>`,
    );
    return `<?xml version="1.0" encoding="utf-8"?><MetersInOrder>${meters.join('')}</MetersInOrder>`;
  }
  const devices = file.meters.map(
    (meter, index) =>
      `<Device><ShortName>${meter.name ?? 'flowIQ2101'}</ShortName><ConsumptionTypeName>Cold water` +
      `</ConsumptionTypeName><CustomerDeviceNumber>${index + 1}</CustomerDeviceNumber>` +
      `<SerialNumber>${meter.serialNumber}</SerialNumber><ManufacturerId>KAM</ManufacturerId>` +
      `<ConfigNumber>0100200023533</ConfigNumber><TypeNumber>021A1C0K879</TypeNumber>` +
      `<Keys><Key><Name>DEK</Name><Value>${meter.key}</Value></Key></Keys></Device>`,
  );
  return `<?xml version="1.0" encoding="utf-8"?><Devices>${devices.join('')}</Devices>`;
}

function pad(plain: Buffer, padding: 'zeros' | 'xmlenc'): Buffer {
  const count = 16 - (plain.length % 16);
  const tail = Buffer.alloc(count);
  if (padding === 'xmlenc') tail[count - 1] = count;
  return Buffer.concat([plain, tail]);
}

export function buildKemFile(file: KemTestFile): Buffer {
  const key = kemKeyOfPassword(file.password);
  const cipher = createCipheriv('aes-128-cbc', key, key);
  cipher.setAutoPadding(false);
  const plain = pad(Buffer.from(meterListXml(file), 'utf8'), file.padding ?? 'zeros');
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]).toString('base64');
  const xml =
    '<?xml version="1.0" encoding="utf-8"?>\n' +
    '<EncryptedData Type="http://www.w3.org/2001/04/xmlenc#Element" xmlns="http://www.w3.org/2001/04/xmlenc#">\n' +
    '  <EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc" />\n' +
    `  <CipherData>\n    <CipherValue>${ciphertext}</CipherValue>\n  </CipherData>\n</EncryptedData>\n`;
  const document = Buffer.from(xml, 'utf8');
  if (!file.zipAs) return document;
  return Buffer.from(zipSync({ [file.zipAs]: new Uint8Array(document) }));
}
