import { CsvError, parse } from 'csv-parse/sync';
import type { MeterStatus } from '@hes/storage';
import { ApiValidationException } from '../http/api-error';
import {
  DRIVER_PATTERN,
  INSTANT_PATTERN,
  MANUFACTURER_PATTERN,
  METER_ID_PATTERN,
  METER_STATUSES,
} from './meters.dto';

/** The columns a meter import may have; only meter_id is required in the header. */
export const METER_CSV_COLUMNS = [
  'meter_id',
  'manufacturer',
  'device_type',
  'version',
  'driver',
  'group',
  'society',
  'tower',
  'flat',
  'status',
  'installed_at',
  'location',
] as const;
export type MeterCsvColumn = (typeof METER_CSV_COLUMNS)[number];

/** One problem with one row: `row` is the line number in the file (the header is line 1). */
export interface MeterImportError {
  row: number;
  /** The column the problem is in; null when it is about the row as a whole. */
  column: MeterCsvColumn | null;
  message: string;
}

/**
 * A data row whose cells are well-formed. References (group, society, tower, flat) are still the text of the
 * cell: a UUID or a name for society, tower and flat, a number or a name for the group. An empty cell is absent.
 */
export interface MeterCsvRow {
  row: number;
  meterId: string;
  manufacturer?: string;
  deviceType?: number;
  version?: number;
  driver?: string;
  group?: string;
  society?: string;
  tower?: string;
  flat?: string;
  status?: MeterStatus;
  installedAt?: Date;
  location?: string;
}

export interface ParsedMeterCsv {
  rows: MeterCsvRow[];
  errors: MeterImportError[];
  /** Data rows in the file, good and bad. */
  rowCount: number;
}

const BYTE = /^(?:\d{1,3}|0x[0-9a-f]{1,2})$/i;
const MAX_LOCATION_LENGTH = 500;
const MAX_REFERENCE_LENGTH = 200;

type CellParser = (value: string) => { value: unknown } | { error: string };

const CELL_PARSERS: Readonly<Record<Exclude<MeterCsvColumn, 'meter_id'>, CellParser>> = {
  manufacturer: (value) =>
    MANUFACTURER_PATTERN.test(value)
      ? { value: value.toUpperCase() }
      : { error: 'must be a three-letter manufacturer code (e.g. KAM)' },
  device_type: parseByte,
  version: parseByte,
  driver: (value) =>
    DRIVER_PATTERN.test(value.toLowerCase())
      ? { value: value.toLowerCase() }
      : { error: 'must be a driver name: letters, digits and underscores (1-64)' },
  group: reference,
  society: reference,
  tower: reference,
  flat: reference,
  status: (value) => {
    const status = value.toLowerCase() as MeterStatus;
    return METER_STATUSES.includes(status)
      ? { value: status }
      : { error: `must be one of ${METER_STATUSES.join(', ')}` };
  },
  installed_at: (value) => {
    const instant = new Date(value);
    return INSTANT_PATTERN.test(value) && !Number.isNaN(instant.getTime())
      ? { value: instant }
      : { error: 'must be an ISO 8601 date (2026-01-31) or date-time with offset (2026-01-31T08:00:00Z)' };
  },
  location: (value) =>
    value.length <= MAX_LOCATION_LENGTH
      ? { value }
      : { error: `must be at most ${MAX_LOCATION_LENGTH} characters` },
};

const FIELD_OF_COLUMN: Readonly<Record<Exclude<MeterCsvColumn, 'meter_id'>, keyof MeterCsvRow>> = {
  manufacturer: 'manufacturer',
  device_type: 'deviceType',
  version: 'version',
  driver: 'driver',
  group: 'group',
  society: 'society',
  tower: 'tower',
  flat: 'flat',
  status: 'status',
  installed_at: 'installedAt',
  location: 'location',
};

/**
 * Reads a meter import CSV. The header row names the columns (any order, any case; meter_id required, every
 * other column of METER_CSV_COLUMNS optional). Each data row is checked on its own: a malformed cell makes that
 * row an error naming the row and column, and the other rows are still returned. A file that is not readable as
 * CSV, or whose header is wrong, is a 400 on the `file` field: then no row can be trusted.
 */
export function parseMeterCsv(content: Buffer | string): ParsedMeterCsv {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    // `info: true` wraps each record with its position; csv-parse's typings do not model that option.
    records = parse(content, {
      bom: true,
      trim: true,
      skip_empty_lines: true,
      relax_column_count: true,
      info: true,
    }) as unknown as typeof records;
  } catch (error) {
    if (error instanceof CsvError)
      throw new ApiValidationException([{ field: 'file', message: `not readable as CSV: ${error.message}` }]);
    throw error;
  }
  if (records.length === 0)
    throw new ApiValidationException([{ field: 'file', message: 'is empty: expected a header row' }]);
  const header = checkHeader(records[0].record);
  const rows: MeterCsvRow[] = [];
  const errors: MeterImportError[] = [];
  const firstRowOf = new Map<string, number>();
  for (const { record, info } of records.slice(1)) {
    const row = info.lines;
    if (record.length > header.length) {
      errors.push({
        row,
        column: null,
        message: `has ${record.length} cells, the header names ${header.length}`,
      });
      continue;
    }
    const parsed = parseRow(row, header, record, errors);
    if (!parsed) continue;
    const first = firstRowOf.get(parsed.meterId);
    if (first !== undefined) {
      errors.push({ row, column: 'meter_id', message: `meter ${parsed.meterId} is already in row ${first}` });
      continue;
    }
    firstRowOf.set(parsed.meterId, row);
    rows.push(parsed);
  }
  return { rows, errors, rowCount: records.length - 1 };
}

function checkHeader(names: string[]): MeterCsvColumn[] {
  const header = names.map((name) => name.toLowerCase());
  const problems: string[] = [];
  const unknown = header.filter((name) => !(METER_CSV_COLUMNS as readonly string[]).includes(name));
  if (unknown.length > 0)
    problems.push(
      `unknown column(s) ${unknown.map((name) => JSON.stringify(name)).join(', ')} (known: ${METER_CSV_COLUMNS.join(', ')})`,
    );
  const repeated = header.filter((name, index) => header.indexOf(name) !== index);
  if (repeated.length > 0) problems.push(`column(s) named twice: ${[...new Set(repeated)].join(', ')}`);
  if (!header.includes('meter_id')) problems.push('the header row must name the column meter_id');
  if (problems.length > 0)
    throw new ApiValidationException(
      problems.map((message) => ({ field: 'file', message: `header: ${message}` })),
    );
  return header as MeterCsvColumn[];
}

/** The row with its cells parsed, or undefined after adding one error per bad cell. */
function parseRow(
  row: number,
  header: readonly MeterCsvColumn[],
  record: readonly string[],
  errors: MeterImportError[],
): MeterCsvRow | undefined {
  const cells = new Map(header.map((column, index) => [column, record[index] ?? '']));
  const errorCount = errors.length;
  const meterId = cells.get('meter_id') ?? '';
  if (!METER_ID_PATTERN.test(meterId))
    errors.push({
      row,
      column: 'meter_id',
      message: meterId === '' ? 'is required' : 'must be 8 hex digits',
    });
  const parsed: MeterCsvRow = { row, meterId: meterId.toUpperCase() };
  for (const [column, text] of cells) {
    if (column === 'meter_id' || text === '') continue;
    const result = CELL_PARSERS[column](text);
    if ('error' in result) errors.push({ row, column, message: result.error });
    else (parsed as unknown as Record<string, unknown>)[FIELD_OF_COLUMN[column]] = result.value;
  }
  return errors.length === errorCount ? parsed : undefined;
}

function parseByte(value: string): { value: number } | { error: string } {
  const number = BYTE.test(value) ? Number(value) : Number.NaN;
  return number >= 0 && number <= 255
    ? { value: number }
    : { error: 'must be a number from 0 to 255 (decimal, or hex as 0x16)' };
}

function reference(value: string): { value: string } | { error: string } {
  return value.length <= MAX_REFERENCE_LENGTH
    ? { value }
    : { error: `must be an id or a name of at most ${MAX_REFERENCE_LENGTH} characters` };
}
