import { Controller, HttpCode, HttpStatus, Inject, Post, Query, Req } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiQuery,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentPrincipal, Roles, type Principal } from '@hes/auth';
import type { FastifyRequest } from 'fastify';
import { ApiErrorResponse } from '../http/api-error';
import { ClientIp } from '../http/client-ip';
import { parseDryRun, readCsvUpload } from '../http/import-upload';
import { METER_CSV_COLUMNS, parseMeterCsv } from './meter-csv';
import { MeterImporter, type MeterImportResult } from './meter-importer';

/** Largest import accepted: roughly 100,000 meters with every column filled. */
export const MAX_METER_CSV_BYTES = 16 * 1024 * 1024;

class MeterImportOutcomeResponse {
  @ApiProperty({ example: 2, description: 'line number in the file (the header is line 1)' })
  row!: number;
  @ApiProperty({ example: '12345678' })
  meterId!: string;
  @ApiProperty({ enum: ['created', 'updated'] })
  action!: 'created' | 'updated';
}

class MeterImportErrorResponse {
  @ApiProperty({ example: 3, description: 'line number in the file (the header is line 1)' })
  row!: number;
  @ApiProperty({
    nullable: true,
    type: String,
    enum: METER_CSV_COLUMNS,
    description: 'null: the row as a whole',
  })
  column!: string | null;
  @ApiProperty({ example: 'must be 8 hex digits' })
  message!: string;
}

class MeterImportResponse {
  @ApiProperty({ description: 'true: nothing was written; the counts say what the import would do' })
  dryRun!: boolean;
  @ApiProperty({ description: 'data rows in the file' })
  rows!: number;
  @ApiProperty()
  created!: number;
  @ApiProperty()
  updated!: number;
  @ApiProperty({ description: 'rows not imported (each has at least one entry in errors)' })
  failed!: number;
  @ApiProperty({ type: [MeterImportOutcomeResponse] })
  imported!: MeterImportOutcomeResponse[];
  @ApiProperty({ type: [MeterImportErrorResponse] })
  errors!: MeterImportErrorResponse[];
}

@ApiTags('meters')
@ApiBearerAuth()
@ApiSecurity('api-key')
@Roles('society_admin')
@Controller('meters/import')
export class MeterImportController {
  constructor(@Inject(MeterImporter) private readonly importer: MeterImporter) {}

  @Post()
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Imports meters from CSV',
    description:
      `A header row names the columns (any order, any case): ${METER_CSV_COLUMNS.join(', ')}; meter_id is ` +
      'required. New meter ids are created (manufacturer, device_type and version required; device_type and ' +
      'version decimal or 0x hex); meters already in your societies are updated, and an empty cell leaves that ' +
      'field as it is. group: id or name. society, tower, flat: id or name, within your societies; a flat by name ' +
      'needs its tower. installed_at: ISO 8601 date, or date-time with offset. Every row is checked on its own: ' +
      'good rows are imported even when others fail, each failure names its row (line number), column and reason. ' +
      'Meter ids are global, so an id registered outside your societies is refused. Send the file as the ' +
      'multipart field `file` or as a text/csv body. Needs society_admin in the societies imported into; meters ' +
      'without a society: platform admins only.',
  })
  @ApiQuery({ name: 'dryRun', required: false, type: Boolean, description: 'check every row, write nothing' })
  @ApiConsumes('multipart/form-data', 'text/csv')
  @ApiBody({
    schema: {
      type: 'object',
      required: ['file'],
      properties: { file: { type: 'string', format: 'binary' } },
    },
  })
  @ApiOkResponse({ type: MeterImportResponse, description: 'per-row results' })
  @ApiBadRequestResponse({ type: ApiErrorResponse, description: 'no file, not CSV, or a wrong header row' })
  @ApiForbiddenResponse({ type: ApiErrorResponse })
  async importCsv(
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
    @Query('dryRun') dryRunParam: string | undefined,
    @ClientIp() ip?: string,
  ): Promise<MeterImportResult> {
    const dryRun = parseDryRun(dryRunParam);
    const content = await readCsvUpload(request, MAX_METER_CSV_BYTES);
    return this.importer.import(principal, parseMeterCsv(content), { dryRun, ip });
  }
}
