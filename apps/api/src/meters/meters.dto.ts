import { ApiParam, ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Matches,
  Max,
  Min,
  ValidateIf,
} from 'class-validator';
import type { MeterStatus } from '@hes/storage';
import { CursorPage, PageQuery } from '../http/page';
import type { LatestValue } from '../readings/latest-readings';
import { LatestValueItem } from '../readings/readings.dto';
import type { MeterRecord } from './meters.repository';

export const METER_STATUSES: readonly MeterStatus[] = ['active', 'inactive', 'removed'];

export const METER_ID_PATTERN = /^[0-9A-Fa-f]{8}$/;
/** The three-letter manufacturer code of the wM-Bus header (FLAG association), e.g. KAM. */
export const MANUFACTURER_PATTERN = /^[A-Za-z@]{3}$/;
/** wmbusmeters driver names: lower-case letters, digits and underscores. */
export const DRIVER_PATTERN = /^[a-z0-9_]{1,64}$/;
/** An instant with its offset (Z or ±hh:mm), or a calendar date taken as UTC midnight. */
export const INSTANT_PATTERN = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** The meter id path parameter as OpenAPI shows it. */
export const MeterIdParam = () =>
  ApiParam({
    name: 'meterId',
    example: '12345678',
    description: 'wM-Bus identification number: 8 hex digits, any case',
  });

const upperCase = ({ value }: { value: unknown }) =>
  typeof value === 'string' ? value.toUpperCase() : value;
const nullOrAbsent = (_object: object, value: unknown) => value !== null && value !== undefined;

export class ListMetersQuery extends PageQuery {
  @ApiPropertyOptional({ format: 'uuid', description: 'meters of this society' })
  @IsOptional()
  @IsUUID()
  societyId?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'meters placed in the flats of this tower' })
  @IsOptional()
  @IsUUID()
  towerId?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'meters placed in this flat' })
  @IsOptional()
  @IsUUID()
  flatId?: string;

  @ApiPropertyOptional({ description: 'meters of this meter group' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  groupId?: number;

  @ApiPropertyOptional({ enum: METER_STATUSES, description: 'registry status' })
  @IsOptional()
  @IsIn(METER_STATUSES)
  status?: MeterStatus;

  @ApiPropertyOptional({ example: 'KAM', description: 'three-letter manufacturer code, any case' })
  @IsOptional()
  @Matches(MANUFACTURER_PATTERN, { message: 'manufacturer must be a three-letter manufacturer code' })
  @Transform(upperCase)
  manufacturer?: string;

  @ApiPropertyOptional({
    format: 'date-time',
    description: 'meters last heard before this instant (UTC ISO 8601), including meters never heard',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  notHeardSince?: string;

  @ApiPropertyOptional({ example: '1234', description: 'meter id prefix: 1 to 8 hex digits, any case' })
  @IsOptional()
  @Matches(/^[0-9A-Fa-f]{1,8}$/, { message: 'search must be 1 to 8 hex digits (a meter id prefix)' })
  @Transform(upperCase)
  search?: string;
}

/** Registry fields shared by create and update; the meter id is the identity and never changes. */
class MeterFieldsRequest {
  @ApiPropertyOptional({
    example: 'kamwater',
    nullable: true,
    type: String,
    description: 'wmbusmeters driver name',
  })
  @ValidateIf(nullOrAbsent)
  @Matches(DRIVER_PATTERN, { message: 'driver must be lower-case letters, digits and underscores (1-64)' })
  driver?: string | null;

  @ApiPropertyOptional({ description: 'meter group id (default: group 1, "default")' })
  @IsOptional()
  @IsInt()
  @Min(1)
  groupId?: number;

  @ApiPropertyOptional({ enum: METER_STATUSES })
  @IsOptional()
  @IsIn(METER_STATUSES)
  status?: MeterStatus;

  @ApiPropertyOptional({
    format: 'date-time',
    nullable: true,
    type: String,
    description: 'UTC ISO 8601 with offset, or a date (UTC midnight)',
  })
  @ValidateIf(nullOrAbsent)
  @Matches(INSTANT_PATTERN, { message: 'installedAt must be an ISO 8601 date, or date-time with offset' })
  @IsISO8601({ strict: true })
  installedAt?: string | null;

  @ApiPropertyOptional({ nullable: true, type: String, maxLength: 500, example: 'bathroom, under the sink' })
  @ValidateIf(nullOrAbsent)
  @IsString()
  @Length(0, 500)
  location?: string | null;

  @ApiPropertyOptional({ nullable: true, type: String, maxLength: 2000 })
  @ValidateIf(nullOrAbsent)
  @IsString()
  @Length(0, 2000)
  notes?: string | null;

  @ApiPropertyOptional({
    format: 'uuid',
    nullable: true,
    type: String,
    description: 'owning society; null or absent: no society (platform admins only)',
  })
  @ValidateIf(nullOrAbsent)
  @IsUUID()
  societyId?: string | null;

  @ApiPropertyOptional({
    format: 'uuid',
    nullable: true,
    type: String,
    description: "a flat of the meter's society",
  })
  @ValidateIf(nullOrAbsent)
  @IsUUID()
  flatId?: string | null;
}

export class CreateMeterRequest extends MeterFieldsRequest {
  @ApiProperty({ example: '12345678', description: 'wM-Bus identification number: 8 hex digits, any case' })
  @Matches(METER_ID_PATTERN, { message: 'meterId must be 8 hex digits' })
  @Transform(upperCase)
  meterId!: string;

  @ApiProperty({ example: 'KAM', description: 'three-letter manufacturer code, any case' })
  @Matches(MANUFACTURER_PATTERN, { message: 'manufacturer must be a three-letter manufacturer code' })
  @Transform(upperCase)
  manufacturer!: string;

  @ApiProperty({
    example: 22,
    minimum: 0,
    maximum: 255,
    description: 'wM-Bus device type (medium), e.g. 22 = cold water',
  })
  @IsInt()
  @Min(0)
  @Max(255)
  deviceType!: number;

  @ApiProperty({ example: 27, minimum: 0, maximum: 255, description: 'wM-Bus version byte' })
  @IsInt()
  @Min(0)
  @Max(255)
  version!: number;
}

export class UpdateMeterRequest extends MeterFieldsRequest {
  @ApiPropertyOptional({ example: 'KAM' })
  @IsOptional()
  @Matches(MANUFACTURER_PATTERN, { message: 'manufacturer must be a three-letter manufacturer code' })
  @Transform(upperCase)
  manufacturer?: string;

  @ApiPropertyOptional({ minimum: 0, maximum: 255 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(255)
  deviceType?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 255 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(255)
  version?: number;
}

export class MeterGroupRef {
  @ApiProperty({ example: 1 })
  id!: number;
  @ApiProperty({ example: 'default' })
  name!: string;
}

export class MeterKeySummary {
  @ApiProperty({ example: '3f2a9c0d1b7e4a55', description: 'HMAC fingerprint of the key (never the key)' })
  fingerprint!: string;
  @ApiProperty({ description: 'increases by one on every rotation' })
  version!: number;
  @ApiProperty({ format: 'date-time' })
  setAt!: string;
}

export class MeterResponse {
  @ApiProperty({ example: '12345678' })
  meterId!: string;
  @ApiProperty({ example: 'KAM' })
  manufacturer!: string;
  @ApiProperty({ example: 22 })
  deviceType!: number;
  @ApiProperty({ example: 27 })
  version!: number;
  @ApiProperty({ nullable: true, type: String, example: 'kamwater' })
  driver!: string | null;
  @ApiProperty({ enum: METER_STATUSES })
  status!: MeterStatus;
  @ApiProperty({ type: MeterGroupRef })
  group!: MeterGroupRef;
  @ApiProperty({ format: 'uuid', nullable: true, type: String })
  societyId!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String })
  towerId!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String })
  flatId!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  installedAt!: string | null;
  @ApiProperty({ nullable: true, type: String })
  location!: string | null;
  @ApiProperty({ nullable: true, type: String })
  notes!: string | null;
  @ApiProperty({
    format: 'date-time',
    nullable: true,
    type: String,
    description: 'receive time of the last telegram',
  })
  lastSeenAt!: string | null;
  @ApiProperty({ nullable: true, type: Number, description: 'signal strength of the last telegram, dBm' })
  lastRssiDbm!: number | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: 'gateway',
    description: 'input the last telegram came through',
  })
  lastSource!: string | null;
  @ApiProperty({ nullable: true, type: String })
  lastGatewayId!: string | null;
  @ApiProperty({
    type: [String],
    example: ['LEAK'],
    description: "status flags of the last telegram as the meter's driver names them; empty when all is well",
  })
  statusFlags!: string[];
  @ApiProperty({
    type: MeterKeySummary,
    nullable: true,
    description: 'the stored key, if any: fingerprint only',
  })
  key!: MeterKeySummary | null;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;

  static of(meter: MeterRecord): MeterResponse {
    return {
      meterId: meter.meterId,
      manufacturer: meter.manufacturer,
      deviceType: meter.deviceType,
      version: meter.version,
      driver: meter.driver,
      status: meter.status,
      group: { id: meter.groupId, name: meter.groupName },
      societyId: meter.societyId,
      towerId: meter.towerId,
      flatId: meter.flatId,
      installedAt: meter.installedAt?.toISOString() ?? null,
      location: meter.location,
      notes: meter.notes,
      lastSeenAt: meter.lastSeenAt?.toISOString() ?? null,
      lastRssiDbm: meter.lastRssiDbm,
      lastSource: meter.lastSource,
      lastGatewayId: meter.lastGatewayId,
      statusFlags: meter.statusFlags ?? [],
      key:
        meter.keyFingerprint !== null && meter.keyVersion !== null && meter.keySetAt !== null
          ? {
              fingerprint: meter.keyFingerprint,
              version: meter.keyVersion,
              setAt: meter.keySetAt.toISOString(),
            }
          : null,
      createdAt: meter.createdAt.toISOString(),
      updatedAt: meter.updatedAt.toISOString(),
    };
  }
}

export class MeterDetailResponse extends MeterResponse {
  @ApiProperty({
    type: [LatestValueItem],
    description: 'newest value of each quantity/storage/tariff (from the cache, else the database)',
  })
  latestValues!: LatestValueItem[];

  static withLatest(meter: MeterRecord, latest: readonly LatestValue[]): MeterDetailResponse {
    return { ...MeterResponse.of(meter), latestValues: latest.map((value) => ({ ...value })) };
  }
}

export class MeterPage extends CursorPage {
  @ApiProperty({ type: [MeterResponse] })
  items!: MeterResponse[];
}
