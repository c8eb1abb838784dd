import { ApiValidationException } from '../http/api-error';
import { parseKeyCsv } from './key-csv';

function detailsOf(content: string): unknown {
  try {
    parseKeyCsv(Buffer.from(content));
  } catch (error) {
    if (error instanceof ApiValidationException)
      return (error.getResponse() as { error: { details: unknown } }).error.details;
    throw error;
  }
  throw new Error('expected a validation error');
}

describe('parseKeyCsv', () => {
  it('reads the meter_id and key columns by header name, with line numbers as row numbers', () => {
    const csv =
      '\uFEFFNote; KEY ;Meter_Id\n"a; quoted\nnote";00112233445566778899AABBCCDDEEFF;12345678\n\n;k2;87654321\n';
    expect(parseKeyCsv(Buffer.from(csv))).toEqual([
      {
        row: 3,
        meterId: { column: 'meter_id', value: '12345678' },
        key: { column: 'key', value: '00112233445566778899AABBCCDDEEFF' },
      },
      { row: 5, meterId: { column: 'meter_id', value: '87654321' }, key: { column: 'key', value: 'k2' } },
    ]);
    expect(parseKeyCsv(Buffer.from('meter_id\tkey\n12345678\tabc\n'))[0].key.value).toBe('abc');
  });

  it('keeps short rows as rows with empty values instead of failing the file', () => {
    expect(parseKeyCsv(Buffer.from('meter_id,key\n12345678\n'))).toEqual([
      { row: 2, meterId: { column: 'meter_id', value: '12345678' }, key: { column: 'key', value: '' } },
    ]);
  });

  it('refuses files without data rows, without the required columns, or not CSV at all', () => {
    expect(detailsOf('meter_id,key\n')).toEqual([{ field: 'file', message: 'has no data rows' }]);
    expect(detailsOf('id,secret\n1,2\n')).toEqual([
      {
        field: 'file',
        message: 'the header row must name the columns meter_id and key (missing: meter_id, key)',
      },
    ]);
    expect(detailsOf('meter_id,key\n"unterminated,1\n')).toEqual([
      { field: 'file', message: expect.stringMatching(/^not readable as CSV: /) },
    ]);
  });
});
