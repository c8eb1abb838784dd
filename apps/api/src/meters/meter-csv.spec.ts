import { ApiValidationException } from '../http/api-error';
import { parseMeterCsv } from './meter-csv';

function validationDetails(run: () => unknown): { field: string; message: string }[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiValidationException)
      return (error.getResponse() as { error: { details: { field: string; message: string }[] } }).error
        .details;
    throw error;
  }
  throw new Error('expected a validation error');
}

describe('parseMeterCsv', () => {
  it('reads header-driven columns in any order and case, with line numbers as row numbers', () => {
    const csv = [
      '\ufeffLocation,METER_ID,device_type,Version,manufacturer,installed_at,status,group,society,tower,flat,driver',
      '"kitchen, left",12345678,0x16,27,kam,2026-03-01,Active,north,Society A,T1,101,KamWater',
      '',
      ',abcdef01,7,1,APA,2026-03-01T08:00:00+01:00,,,,,,',
    ].join('\r\n');
    const parsed = parseMeterCsv(csv);
    expect(parsed.errors).toEqual([]);
    expect(parsed.rowCount).toBe(2);
    expect(parsed.rows).toEqual([
      {
        row: 2,
        meterId: '12345678',
        location: 'kitchen, left',
        deviceType: 22,
        version: 27,
        manufacturer: 'KAM',
        installedAt: new Date('2026-03-01T00:00:00Z'),
        status: 'active',
        group: 'north',
        society: 'Society A',
        tower: 'T1',
        flat: '101',
        driver: 'kamwater',
      },
      {
        row: 4,
        meterId: 'ABCDEF01',
        deviceType: 7,
        version: 1,
        manufacturer: 'APA',
        installedAt: new Date('2026-03-01T07:00:00Z'),
      },
    ]);
  });

  it('reports every bad cell with its row and column and keeps the good rows', () => {
    const csv = [
      'meter_id,manufacturer,device_type,version,status,installed_at',
      '1234567,KAMS,256,0x1G,gone,2026-13-01',
      '11111111,KAM,22,27,,',
      ',KAM,22,27,,',
      '11111111,KAM,22,27,,',
      '22222222,KAM,22,27,active,2026-03-01T10:00:00',
      '33333333,KAM,22,27,active,,surplus',
    ].join('\n');
    const parsed = parseMeterCsv(csv);
    expect(parsed.rows.map((row) => row.meterId)).toEqual(['11111111']);
    expect(parsed.rowCount).toBe(6);
    expect(parsed.errors).toEqual([
      { row: 2, column: 'meter_id', message: 'must be 8 hex digits' },
      { row: 2, column: 'manufacturer', message: expect.stringMatching(/three-letter/) },
      { row: 2, column: 'device_type', message: expect.stringMatching(/0 to 255/) },
      { row: 2, column: 'version', message: expect.stringMatching(/0 to 255/) },
      { row: 2, column: 'status', message: 'must be one of active, inactive, removed' },
      { row: 2, column: 'installed_at', message: expect.stringMatching(/ISO 8601/) },
      { row: 4, column: 'meter_id', message: 'is required' },
      { row: 5, column: 'meter_id', message: 'meter 11111111 is already in row 3' },
      { row: 6, column: 'installed_at', message: expect.stringMatching(/with offset/) },
      { row: 7, column: null, message: 'has 7 cells, the header names 6' },
    ]);
  });

  it('refuses a file whose header is wrong or that is not CSV, naming the file field', () => {
    expect(validationDetails(() => parseMeterCsv('manufacturer,meterid,manufacturer\nKAM,1,KAM\n'))).toEqual([
      { field: 'file', message: expect.stringMatching(/^header: unknown column\(s\) "meterid"/) },
      { field: 'file', message: 'header: column(s) named twice: manufacturer' },
      { field: 'file', message: 'header: the header row must name the column meter_id' },
    ]);
    expect(validationDetails(() => parseMeterCsv(''))).toEqual([
      { field: 'file', message: 'is empty: expected a header row' },
    ]);
    expect(validationDetails(() => parseMeterCsv('meter_id\n"12345678\n'))).toEqual([
      { field: 'file', message: expect.stringMatching(/^not readable as CSV: Quote Not Closed/) },
    ]);
  });
});
