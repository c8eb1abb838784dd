import { Body, Controller, Get, HttpCode, HttpStatus, Inject, Param, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiSecurity,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsUUID, Matches, Min } from 'class-validator';
import { CurrentPrincipal, actorOf, findInTenantOrNotFound, Roles, type Principal } from '@hes/auth';
import type { UnknownMeter } from '@hes/storage';
import { cursorPage, CursorPage, pageAfter, pageLimit, PageQuery } from '../http/page';
import { ApiErrorResponse } from '../http/api-error';
import { ClientIp } from '../http/client-ip';
import { parseMeterId } from '../http/params';
import { parseMeterKeyHex } from '../keys/meter-key-vault';
import { LatestReadings } from '../readings/latest-readings';
import { DRIVER_PATTERN, MeterDetailResponse, MeterIdParam } from './meters.dto';
import { MetersRepository } from './meters.repository';
import { UnknownMeters } from './unknown-meters';

const CURSOR_METER = /^[0-9A-F]{8}$/;

export class ListUnknownMetersQuery extends PageQuery {
  @ApiPropertyOptional({ minimum: 1, default: 1, description: 'only meters heard at least this often' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  minHeardCount?: number;
}

export class RegisterUnknownMeterRequest {
  @ApiProperty({ format: 'uuid', description: 'the society the meter will belong to' })
  @IsUUID()
  societyId!: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'a flat of that society' })
  @IsOptional()
  @IsUUID()
  flatId?: string;

  @ApiPropertyOptional({ description: 'meter group id (default: group 1)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  groupId?: number;

  @ApiPropertyOptional({
    example: '000102030405060708090A0B0C0D0E0F',
    description: 'the meter’s AES-128 key, 32 hex digits; stored encrypted, never returned',
    writeOnly: true,
  })
  @IsOptional()
  @Matches(/^[0-9A-Fa-f]{32}$/, { message: 'key must be 32 hex digits' })
  key?: string;

  @ApiPropertyOptional({ example: 'kamwater', description: 'wmbusmeters driver name' })
  @IsOptional()
  @Matches(DRIVER_PATTERN, { message: 'driver must be lower-case letters, digits and underscores (1-64)' })
  driver?: string;
}

export class UnknownMeterResponse {
  @ApiProperty({ example: '12345678' })
  meterId!: string;
  @ApiProperty({ example: 'KAM', description: 'as heard in the last telegram' })
  manufacturer!: string;
  @ApiProperty({ example: 22 })
  deviceType!: number;
  @ApiProperty({ example: 27 })
  version!: number;
  @ApiProperty({ description: 'telegrams heard' })
  heardCount!: number;
  @ApiProperty({ format: 'date-time' })
  firstHeardAt!: string;
  @ApiProperty({ format: 'date-time' })
  lastHeardAt!: string;
  @ApiProperty({ example: 'gateway', description: 'input the last telegram came through' })
  lastSource!: string;
  @ApiProperty({ nullable: true, type: String })
  lastGatewayId!: string | null;
  @ApiProperty({ nullable: true, type: Number, description: 'signal strength of the last telegram, dBm' })
  lastRssiDbm!: number | null;

  static of(meter: UnknownMeter): UnknownMeterResponse {
    return {
      meterId: meter.meterId,
      manufacturer: meter.manufacturer,
      deviceType: meter.deviceType,
      version: meter.version,
      heardCount: meter.heardCount,
      firstHeardAt: meter.firstHeardAt.toISOString(),
      lastHeardAt: meter.lastHeardAt.toISOString(),
      lastSource: meter.lastSource,
      lastGatewayId: meter.lastGatewayId,
      lastRssiDbm: meter.lastRssiDbm,
    };
  }
}

export class UnknownMeterPage extends CursorPage {
  @ApiProperty({ type: [UnknownMeterResponse] })
  items!: UnknownMeterResponse[];
}

/** Heard meters belong to no tenant until registered, so this whole resource is for platform admins. */
@ApiTags('meters')
@ApiBearerAuth()
@ApiSecurity('api-key')
@Roles('platform_admin')
@Controller('unknown-meters')
export class UnknownMetersController {
  constructor(
    @Inject(UnknownMeters) private readonly unknown: UnknownMeters,
    @Inject(MetersRepository) private readonly meters: MetersRepository,
    @Inject(LatestReadings) private readonly latest: LatestReadings,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Meters heard on air but not registered (platform admins only)',
    description:
      'Unknown meters belong to no tenant (no society has claimed them yet), so only platform admins may list ' +
      'them; every other caller gets 403. Meter id order, cursor pagination.',
  })
  @ApiOkResponse({ type: UnknownMeterPage })
  @ApiForbiddenResponse({ type: ApiErrorResponse, description: 'not a platform admin' })
  async list(@Query() query: ListUnknownMetersQuery): Promise<UnknownMeterPage> {
    const limit = pageLimit(query);
    const rows = await this.unknown.list({
      limit: limit + 1,
      minHeardCount: query.minHeardCount,
      afterMeterId: pageAfter(query, { meterId: CURSOR_METER })?.meterId,
    });
    return cursorPage(rows, limit, UnknownMeterResponse.of, (last) => ({ meterId: last.meterId }));
  }

  @Post(':meterId/register')
  @MeterIdParam()
  @HttpCode(HttpStatus.CREATED)
  @ApiOperation({
    summary: 'Registers a heard meter in a society, optionally with its key (platform admins only)',
    description:
      'Creates the meter with the manufacturer, device type and version it was heard with, stores the key ' +
      'encrypted (decryptors pick it up at once), removes it from the unknown meters and audit-logs it, in one ' +
      'transaction. The key is never returned; the answer shows its fingerprint.',
  })
  @ApiCreatedResponse({ type: MeterDetailResponse })
  @ApiForbiddenResponse({ type: ApiErrorResponse, description: 'not a platform admin' })
  @ApiNotFoundResponse({
    type: ApiErrorResponse,
    description: 'unknown meter, society, flat or group not found',
  })
  @ApiConflictResponse({ type: ApiErrorResponse, description: 'the meter was registered meanwhile' })
  @ApiServiceUnavailableResponse({
    type: ApiErrorResponse,
    description: 'a key was given but HES_MASTER_KEY is not set',
  })
  async register(
    @CurrentPrincipal() principal: Principal,
    @Param('meterId') meterIdParam: string,
    @Body() body: RegisterUnknownMeterRequest,
    @ClientIp() ip?: string,
  ): Promise<MeterDetailResponse> {
    const meterId = parseMeterId(meterIdParam);
    await this.unknown.register(
      {
        meterId,
        societyId: body.societyId,
        flatId: body.flatId,
        groupId: body.groupId,
        driver: body.driver,
        key: body.key === undefined ? undefined : parseMeterKeyHex(body.key),
      },
      {
        actor: actorOf(principal),
        target: `meter:${meterId}`,
        societyId: body.societyId,
        details: {
          flatId: body.flatId ?? null,
          groupId: body.groupId ?? null,
          withKey: body.key !== undefined,
        },
        ip,
      },
    );
    const meter = await findInTenantOrNotFound(principal, 'meter', () =>
      this.meters.find(principal, meterId),
    );
    return MeterDetailResponse.withLatest(meter, await this.latest.ofMeter(meterId, meter.historyFrom));
  }
}
