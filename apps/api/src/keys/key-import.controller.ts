import {
  Controller,
  HttpCode,
  HttpStatus,
  Inject,
  Post,
  Query,
  Req,
  UnprocessableEntityException,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiSecurity,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { CurrentPrincipal, Roles, type Principal } from '@hes/auth';
import { plainToInstance } from 'class-transformer';
import { IsNotEmpty, IsString, validate } from 'class-validator';
import type { FastifyRequest } from 'fastify';
import { ApiErrorResponse, ApiValidationException, errorBody, validationDetails } from '../http/api-error';
import { ClientIp } from '../http/client-ip';
import { parseDryRun, readCsvUpload, readImportForm } from '../http/import-upload';
import { parseKeyCsv } from './key-csv';
import { KEY_WRITERS, KeyImporter, type KeyImportCandidate } from './key-importer';
import { KemFileError, meterIdOfSerialNumber, readKemFile } from './kem-file';
import { KeyImportResponse } from './keys.dto';
import { MeterKeyVault } from './meter-key-vault';

/** Largest import file accepted (CSV or KEM): about 100,000 meters of CSV. */
export const MAX_KEY_FILE_BYTES = 8 * 1024 * 1024;

/** The non-file fields of the KEM upload form. */
class KemImportForm {
  @IsString()
  @IsNotEmpty()
  password!: string;
}

/** The KEM form's fields, checked like a JSON body (the app's validation pipe does not see multipart fields). */
async function kemImportForm(fields: Record<string, string>): Promise<KemImportForm> {
  const form = plainToInstance(KemImportForm, fields);
  const errors = await validate(form, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length > 0) throw new ApiValidationException(validationDetails(errors));
  return form;
}

@ApiTags('keys')
@ApiBearerAuth()
@ApiSecurity('api-key')
@ApiQuery({
  name: 'dryRun',
  required: false,
  type: Boolean,
  description: 'validate and report every row without storing anything',
})
@ApiBadRequestResponse({
  type: ApiErrorResponse,
  description: 'no file, or a file that is not readable at all',
})
@Roles(...KEY_WRITERS)
@Controller('keys/import')
export class KeyImportController {
  private readonly importer: KeyImporter;

  constructor(@Inject(MeterKeyVault) vault: MeterKeyVault) {
    this.importer = new KeyImporter(vault);
  }

  @Post()
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Imports meter keys from CSV',
    description:
      'A CSV with a header row naming meter_id and key (32 hex digits); other columns are ignored. Send it as ' +
      'the multipart field `file` or as a text/csv body. Every row is checked on its own and good rows are stored ' +
      'even when others fail; meters outside your societies are reported like unknown meters. Needs ' +
      "society_admin in each meter's society (or platform_admin).",
  })
  @ApiConsumes('multipart/form-data', 'text/csv')
  @ApiBody({
    schema: {
      type: 'object',
      required: ['file'],
      properties: { file: { type: 'string', format: 'binary' } },
    },
  })
  @ApiOkResponse({ type: KeyImportResponse, description: 'per-row results (row = line number in the file)' })
  async importCsv(
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
    @Query('dryRun') dryRunParam: string | undefined,
    @ClientIp() ip?: string,
  ): Promise<KeyImportResponse> {
    const dryRun = parseDryRun(dryRunParam);
    const content = await readCsvUpload(request, MAX_KEY_FILE_BYTES);
    let candidates: KeyImportCandidate[];
    try {
      candidates = parseKeyCsv(content);
    } finally {
      // The upload holds every key in clear; the parsed rows are all that is needed from here on.
      content.fill(0);
    }
    return this.importer.import(principal, candidates, { dryRun, source: 'csv', ip });
  }

  @Post('kem')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Imports meter keys from a Kamstrup KEM file',
    description:
      'Multipart: `file` (the .kem XML, or a zip archive holding it) and `password` (the one the file was ' +
      "exported with, often the customer number). Each meter's serial number is its wM-Bus id. Per-meter results " +
      'as for the CSV import (row = position of the meter in the file). A wrong password is a 422.',
  })
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    schema: {
      type: 'object',
      required: ['file', 'password'],
      properties: { file: { type: 'string', format: 'binary' }, password: { type: 'string' } },
    },
  })
  @ApiOkResponse({ type: KeyImportResponse })
  @ApiUnprocessableEntityResponse({
    type: ApiErrorResponse,
    description: 'wrong password (code wrong_password) or not a KEM file (code not_kem)',
  })
  async importKem(
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
    @Query('dryRun') dryRunParam: string | undefined,
    @ClientIp() ip?: string,
  ): Promise<KeyImportResponse> {
    const dryRun = parseDryRun(dryRunParam);
    const upload = await readImportForm(request, MAX_KEY_FILE_BYTES);
    const file = upload?.file;
    let form: KemImportForm;
    try {
      form = await kemImportForm(upload?.fields ?? {});
    } catch (error) {
      file?.fill(0);
      throw error;
    }
    if (!file) {
      throw new ApiValidationException([
        { field: 'file', message: 'send the KEM file as multipart field "file"' },
      ]);
    }
    let candidates: KeyImportCandidate[];
    try {
      candidates = readKemFile(file, form.password).map((meter, index) => ({
        row: index + 1,
        meterId: {
          column: meter.serialNumber.element,
          value: meterIdOfSerialNumber(meter.serialNumber.value) ?? meter.serialNumber.value,
          expected: 'a serial number of up to 8 digits',
        },
        key: { column: meter.key.element, value: meter.key.value },
      }));
    } catch (error) {
      if (error instanceof KemFileError)
        throw new UnprocessableEntityException(errorBody(error.code, error.message));
      throw error;
    } finally {
      file.fill(0);
    }
    return this.importer.import(principal, candidates, { dryRun, source: 'kem', ip });
  }
}
