import { createCipheriv } from 'node:crypto';
import { zipSync } from 'fflate';
import { KemFileError, kemKeyOfPassword, meterIdOfSerialNumber, readKemFile } from './kem-file';
import { buildKemFile } from './kem-test-files';

const KEY_1 = '28F64A24988064A079AA2C807D6102AE';
const KEY_2 = 'FD83029839F59A18AB3D49013E0B33ED';

function errorOf(action: () => unknown): KemFileError {
  try {
    action();
  } catch (error) {
    if (error instanceof KemFileError) return error;
    throw error;
  }
  throw new Error('expected a KemFileError');
}

describe('readKemFile', () => {
  const meters = [
    { serialNumber: '76348799', key: KEY_1 },
    { serialNumber: '76348822', key: KEY_2 },
  ];

  it('derives key and IV from the password: UTF-8 bytes, zero-padded or cut to 16 bytes', () => {
    expect(kemKeyOfPassword('12345').toString('hex')).toBe('3132333435' + '00'.repeat(11));
    expect(kemKeyOfPassword('ø').toString('hex')).toBe('c3b8' + '00'.repeat(14));
    expect(kemKeyOfPassword('0123456789abcdefXYZ').toString()).toBe('0123456789abcdef');
  });

  it('decrypts both plaintext layouts, plain XML or zipped, with either padding', () => {
    for (const layout of ['MetersInOrder', 'Devices'] as const) {
      for (const padding of ['zeros', 'xmlenc'] as const) {
        for (const zipAs of [undefined, 'customer.kem', 'customer.KEM2']) {
          const file = buildKemFile({ password: '53110022', meters, layout, padding, zipAs });
          const read = readKemFile(file, '53110022');
          expect(read.map((m) => [m.serialNumber.value, m.key.value])).toEqual([
            ['76348799', KEY_1],
            ['76348822', KEY_2],
          ]);
          expect(read[0].serialNumber.element).toBe(layout === 'MetersInOrder' ? 'SerialNo' : 'SerialNumber');
          expect(read[0].key.element).toBe(layout === 'MetersInOrder' ? 'DEK' : 'Value');
        }
      }
    }
  });

  it('reads a namespace-prefixed EncryptedData with a base64 value broken over lines', () => {
    const key = kemKeyOfPassword('pw');
    const cipher = createCipheriv('aes-128-cbc', key, key);
    cipher.setAutoPadding(false);
    const plain = Buffer.from(
      `<MetersInOrder><Meter><SerialNo>1234</SerialNo><DEK>${KEY_1}</DEK></Meter></MetersInOrder>`,
    );
    const padded = Buffer.concat([plain, Buffer.alloc(16 - (plain.length % 16))]);
    const base64 = Buffer.concat([cipher.update(padded), cipher.final()])
      .toString('base64')
      .replace(/(.{20})/g, '$1\n');
    const xml = `<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"><xenc:CipherData><xenc:CipherValue>${base64}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>`;
    expect(readKemFile(Buffer.from(xml), 'pw')).toEqual([
      { serialNumber: { element: 'SerialNo', value: '1234' }, key: { element: 'DEK', value: KEY_1 } },
    ]);
  });

  it('reports a wrong password as wrong_password', () => {
    const file = buildKemFile({ password: 'right one', meters });
    const error = errorOf(() => readKemFile(file, 'wrong one'));
    expect(error.code).toBe('wrong_password');
    expect(error.message).toMatch(/wrong password/);
  });

  it('reports files that are not KEM files as not_kem', () => {
    expect(errorOf(() => readKemFile(Buffer.from('meter_id,key\n1,2\n'), 'pw')).code).toBe('not_kem');
    expect(errorOf(() => readKemFile(Buffer.from('<a><b>no cipher</b></a>'), 'pw')).message).toMatch(
      /no encrypted content/,
    );
    const odd = '<EncryptedData><CipherData><CipherValue>AAAA</CipherValue></CipherData></EncryptedData>';
    expect(errorOf(() => readKemFile(Buffer.from(odd), 'pw')).message).toMatch(/not a whole number of AES/);
    const zipWithoutKem = Buffer.from(zipSync({ 'readme.txt': new Uint8Array(Buffer.from('hello')) }));
    expect(errorOf(() => readKemFile(zipWithoutKem, 'pw')).message).toMatch(/no \.kem or \.kem2 file/);
    const brokenZip = Buffer.concat([Buffer.from('PK\u0003\u0004'), Buffer.alloc(40, 7)]);
    expect(errorOf(() => readKemFile(brokenZip, 'pw')).code).toBe('not_kem');
  });
});

describe('meterIdOfSerialNumber', () => {
  it('pads serial numbers to the 8 digits of the wM-Bus id and refuses anything else', () => {
    expect(meterIdOfSerialNumber('76348799')).toBe('76348799');
    expect(meterIdOfSerialNumber(' 1234 ')).toBe('00001234');
    expect(meterIdOfSerialNumber('123456789')).toBeUndefined();
    expect(meterIdOfSerialNumber('12AB')).toBeUndefined();
    expect(meterIdOfSerialNumber('')).toBeUndefined();
  });
});
