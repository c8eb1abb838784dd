import type {} from '@fastify/multipart';
import { BadRequestException, HttpException, PayloadTooLargeException } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ApiValidationException } from './api-error';
import { readTextBody } from './text-body';

/** The `dryRun` query flag of the imports: absent, empty or false is false; anything but true/false is a 400. */
export function parseDryRun(value: string | undefined): boolean {
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  throw new ApiValidationException([{ field: 'dryRun', message: 'must be true or false' }]);
}

/** An import's multipart form: the bytes of its `file` field (if one was sent) and its text fields. */
export interface ImportForm {
  file: Buffer | undefined;
  fields: Record<string, string>;
}

/** The answers to the multipart parser's limit errors, worded as the imports have always answered them. */
const FORM_LIMIT_ERRORS: Readonly<Record<string, () => HttpException>> = {
  FST_REQ_FILE_TOO_LARGE: () => new PayloadTooLargeException('File too large'),
  FST_FILES_LIMIT: () => new BadRequestException('Too many files'),
  FST_PARTS_LIMIT: () => new BadRequestException('Too many parts'),
  FST_FIELDS_LIMIT: () => new BadRequestException('Too many fields'),
};

function formException(error: unknown): unknown {
  if (error instanceof HttpException) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const limit = typeof code === 'string' ? FORM_LIMIT_ERRORS[code] : undefined;
  if (limit) return limit();
  // Anything else the parser raises is about the form's own bytes: no boundary, a truncated form, a bad name.
  return new BadRequestException(error instanceof Error ? error.message : 'malformed multipart form');
}

/**
 * Reads a multipart form with at most one file, in the field `file`, of at most `maxFileBytes`; undefined when
 * the request is not multipart. Read by the route itself, so only an authenticated caller with the route's role
 * gets the server to buffer an upload.
 */
export async function readImportForm(
  request: FastifyRequest,
  maxFileBytes: number,
): Promise<ImportForm | undefined> {
  if (!request.isMultipart()) return undefined;
  const form: ImportForm = { file: undefined, fields: {} };
  let unexpectedFile = false;
  try {
    for await (const part of request.parts({ limits: { fileSize: maxFileBytes, files: 1 } })) {
      if (part.type === 'field') {
        form.fields[part.fieldname] = String(part.value);
      } else if (part.fieldname === 'file') {
        form.file = await part.toBuffer();
      } else {
        unexpectedFile = true;
        part.file.resume();
      }
    }
  } catch (error) {
    form.file?.fill(0);
    throw formException(error);
  }
  if (unexpectedFile) {
    form.file?.fill(0);
    throw new BadRequestException('Unexpected file field');
  }
  return form;
}

/**
 * The CSV of an import: the multipart field `file` when one was uploaded, else a text/csv (or text/plain) body
 * of at most `maxBytes`; a 400 on `file` when the request carries neither.
 */
export async function readCsvUpload(request: FastifyRequest, maxBytes: number): Promise<Buffer> {
  const content = request.isMultipart()
    ? (await readImportForm(request, maxBytes))?.file
    : await readTextBody(request, maxBytes);
  if (!content) {
    throw new ApiValidationException([
      { field: 'file', message: 'send the CSV as multipart field "file" or as a text/csv body' },
    ]);
  }
  return content;
}
