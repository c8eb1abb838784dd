import { CsvError, parse } from 'csv-parse/sync';
import { ApiValidationException } from '../http/api-error';
import type { KeyImportCandidate } from './key-importer';

const METER_ID_COLUMN = 'meter_id';
const KEY_COLUMN = 'key';

/**
 * Reads a key import CSV (comma, semicolon or tab separated): a header row naming at least the columns `meter_id` and `key` (any order, any case,
 * further columns ignored), then one meter per line. Row numbers are line numbers in the file, so a user can
 * find the line an error is about; blank lines are skipped. A file that cannot be read as CSV at all, or whose
 * header lacks a required column, is a 400 naming the `file` field.
 */
export function parseKeyCsv(content: Buffer): KeyImportCandidate[] {
  let columns: string[] = [];
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parse(content, {
      bom: true,
      // Spreadsheets in many locales save with semicolons; neither ids nor keys ever contain a separator.
      delimiter: [',', ';', '\t'],
      columns: (header: string[]) => (columns = header.map((name) => name.trim().toLowerCase())),
      skip_empty_lines: true,
      relax_column_count: true,
      info: true,
    });
  } catch (error) {
    if (error instanceof CsvError)
      throw new ApiValidationException([{ field: 'file', message: `not readable as CSV: ${error.message}` }]);
    throw error;
  }
  if (records.length === 0)
    throw new ApiValidationException([{ field: 'file', message: 'has no data rows' }]);
  const missing = [METER_ID_COLUMN, KEY_COLUMN].filter((column) => !columns.includes(column));
  if (missing.length > 0) {
    throw new ApiValidationException([
      {
        field: 'file',
        message: `the header row must name the columns ${METER_ID_COLUMN} and ${KEY_COLUMN} (missing: ${missing.join(', ')})`,
      },
    ]);
  }
  return records.map(({ record, info }) => ({
    row: info.lines,
    meterId: { column: METER_ID_COLUMN, value: record[METER_ID_COLUMN] ?? '' },
    key: { column: KEY_COLUMN, value: record[KEY_COLUMN] ?? '' },
  }));
}
