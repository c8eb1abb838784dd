import type { Request } from 'express';
import { ApiValidationException } from './api-error';
import { readTextBody } from './text-body';

/** The `dryRun` query flag of the imports: absent, empty or false is false; anything but true/false is a 400. */
export function parseDryRun(value: string | undefined): boolean {
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  throw new ApiValidationException([{ field: 'dryRun', message: 'must be true or false' }]);
}

/**
 * The CSV of an import: the multipart field `file` when one was uploaded, else a text/csv (or text/plain) body
 * of at most `maxBytes`; a 400 on `file` when the request carries neither.
 */
export async function readCsvUpload(
  request: Request,
  file: { buffer: Buffer } | undefined,
  maxBytes: number,
): Promise<Buffer> {
  const content = file?.buffer ?? (await readTextBody(request, maxBytes));
  if (!content) {
    throw new ApiValidationException([
      { field: 'file', message: 'send the CSV as multipart field "file" or as a text/csv body' },
    ]);
  }
  return content;
}
