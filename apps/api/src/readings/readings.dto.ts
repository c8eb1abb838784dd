import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsNumber, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { CursorPage } from '../http/page';
import type { ConsumptionFlag } from './consumption';
import type { AggregateInterval } from './readings.repository';

/** A UTC instant: a date (midnight UTC) or a date-time with Z or an explicit offset; never a local time. */
export const INSTANT = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2}))?$/;
const INSTANT_MESSAGE = 'must be an ISO 8601 date (YYYY-MM-DD, UTC) or date-time with Z or an offset';
/** Comma-separated driver field names, e.g. total_m3,flow_temperature_c. */
const QUANTITIES = /^[A-Za-z0-9_.@-]{1,100}(,[A-Za-z0-9_.@-]{1,100}){0,49}$/;
const QUANTITY = /^[A-Za-z0-9_.@-]{1,100}$/;

export const AGGREGATE_INTERVALS: readonly AggregateInterval[] = ['30m', '1h', '1d', '1mo'];
export const CONSUMPTION_FLAGS: readonly ConsumptionFlag[] = [
  'no_readings',
  'start_after_period_start',
  'end_after_period_end',
  'gap',
  'reset',
];

export class ReadingsQuery {
  @ApiPropertyOptional({
    example: '2026-11-20T00:00:00Z',
    description: 'readings at or after this instant (UTC ISO 8601); default: 24 hours before `to`',
  })
  @IsOptional()
  @Matches(INSTANT, { message: INSTANT_MESSAGE })
  from?: string;

  @ApiPropertyOptional({
    example: '2026-11-21T00:00:00Z',
    description: 'readings before this instant (UTC ISO 8601); default: now',
  })
  @IsOptional()
  @Matches(INSTANT, { message: INSTANT_MESSAGE })
  to?: string;

  @ApiPropertyOptional({
    example: 'total_m3,flow_temperature_c',
    description: 'comma-separated; default all',
  })
  @IsOptional()
  @Matches(QUANTITIES, { message: 'must be comma-separated quantity names' })
  quantity?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 10_000, default: 1000 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(10_000)
  limit?: number;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page (same from/to/quantity)' })
  @IsOptional()
  @IsString()
  @Length(1, 400)
  cursor?: string;
}

export class ReadingItem {
  @ApiProperty({ format: 'date-time', example: '2026-11-20T08:30:00.123Z' })
  ts!: string;
  @ApiProperty({ example: 'total_m3', description: "the driver's field name" })
  quantity!: string;
  @ApiProperty({ example: 0, description: 'M-Bus storage number (0 = current value)' })
  storage!: number;
  @ApiProperty({ example: 0 })
  tariff!: number;
  @ApiProperty({ example: 'm3' })
  unit!: string;
  @ApiProperty({ example: 123.456 })
  value!: number;
  @ApiProperty({ example: 'gateway', description: 'where the telegram came from' })
  source!: string;
  @ApiProperty({ example: 0, description: "0 = valid; other values carry the meter's error indication" })
  quality!: number;
}

export class ReadingPage extends CursorPage {
  @ApiProperty({ example: '12345678' })
  meterId!: string;
  @ApiProperty({ format: 'date-time' })
  from!: string;
  @ApiProperty({ format: 'date-time' })
  to!: string;
  @ApiProperty({ type: [ReadingItem], description: 'ordered by ts, quantity, storage, tariff' })
  items!: ReadingItem[];
}

export class LatestValueItem {
  @ApiProperty({ example: 'total_m3', description: "the driver's field name" })
  quantity!: string;
  @ApiProperty({ example: 0, description: 'M-Bus storage number (0 = current value)' })
  storage!: number;
  @ApiProperty({ example: 0 })
  tariff!: number;
  @ApiProperty({ example: 'm3' })
  unit!: string;
  @ApiProperty({ example: 123.456 })
  value!: number;
  @ApiProperty({ format: 'date-time', description: 'reading time, UTC' })
  ts!: string;
}

export class LatestResponse {
  @ApiProperty({ example: '12345678' })
  meterId!: string;
  @ApiProperty({
    type: [LatestValueItem],
    description: 'newest value per quantity/storage/tariff, ordered by quantity, storage, tariff',
  })
  values!: LatestValueItem[];
}

export class AggregatesQuery {
  @ApiProperty({ enum: AGGREGATE_INTERVALS, description: 'bucket size' })
  @IsIn(AGGREGATE_INTERVALS)
  interval!: AggregateInterval;

  @ApiPropertyOptional({
    description:
      'buckets starting at or after this instant (UTC ISO 8601); default: `to` minus 1 day (30m, 1h), 31 days (1d) or 366 days (1mo)',
  })
  @IsOptional()
  @Matches(INSTANT, { message: INSTANT_MESSAGE })
  from?: string;

  @ApiPropertyOptional({ description: 'buckets starting before this instant (UTC ISO 8601); default: now' })
  @IsOptional()
  @Matches(INSTANT, { message: INSTANT_MESSAGE })
  to?: string;

  @ApiPropertyOptional({ example: 'total_m3', description: 'comma-separated; default all' })
  @IsOptional()
  @Matches(QUANTITIES, { message: 'must be comma-separated quantity names' })
  quantity?: string;

  @ApiPropertyOptional({
    example: 'Asia/Kolkata',
    default: 'UTC',
    description:
      'IANA time zone where hours, days and months start (1h, 1d, 1mo); buckets are still reported in UTC',
  })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  tz?: string;
}

export class AggregateBucket {
  @ApiProperty({ format: 'date-time', description: 'bucket start, UTC' })
  start!: string;
  @ApiProperty({ format: 'date-time', description: 'time of the first reading in the bucket' })
  firstTs!: string;
  @ApiProperty()
  first!: number;
  @ApiProperty({ format: 'date-time', description: 'time of the last reading in the bucket' })
  lastTs!: string;
  @ApiProperty()
  last!: number;
  @ApiProperty()
  min!: number;
  @ApiProperty()
  max!: number;
  @ApiProperty({ description: 'mean of the readings (weighted by reading count across 30-minute rollups)' })
  avg!: number;
  @ApiProperty()
  sum!: number;
  @ApiProperty({ description: 'number of readings' })
  count!: number;
}

export class AggregateSeries {
  @ApiProperty({ example: 'total_m3' })
  quantity!: string;
  @ApiProperty()
  storage!: number;
  @ApiProperty()
  tariff!: number;
  @ApiProperty({ example: 'm3' })
  unit!: string;
  @ApiProperty({ type: [AggregateBucket] })
  buckets!: AggregateBucket[];
}

export class AggregatesResponse {
  @ApiProperty({ example: '12345678' })
  meterId!: string;
  @ApiProperty({ enum: AGGREGATE_INTERVALS })
  interval!: AggregateInterval;
  @ApiProperty({ example: 'UTC' })
  tz!: string;
  @ApiProperty({ format: 'date-time' })
  from!: string;
  @ApiProperty({ format: 'date-time' })
  to!: string;
  @ApiProperty({ type: [AggregateSeries] })
  series!: AggregateSeries[];
}

export class ConsumptionQuery {
  @ApiProperty({ example: '2026-10-01', description: 'period start (UTC ISO 8601)' })
  @Matches(INSTANT, { message: INSTANT_MESSAGE })
  from!: string;

  @ApiProperty({ example: '2026-11-01', description: 'period end (UTC ISO 8601)' })
  @Matches(INSTANT, { message: INSTANT_MESSAGE })
  to!: string;

  @ApiPropertyOptional({ default: 'total_m3', description: 'the register (storage 0, tariff 0)' })
  @IsOptional()
  @Matches(QUANTITY, { message: 'must be a quantity name' })
  quantity?: string;

  @ApiPropertyOptional({
    default: 24,
    minimum: 1,
    maximum: 8784,
    description: 'silence longer than this is a gap',
  })
  @IsOptional()
  @Type(() => Number)
  @IsNumber()
  @Min(1)
  @Max(8784)
  gapHours?: number;
}

export class GroupConsumptionQuery extends ConsumptionQuery {
  @ApiPropertyOptional({ enum: ['json', 'csv'], description: 'csv also with `Accept: text/csv`' })
  @IsOptional()
  @IsIn(['json', 'csv'])
  format?: 'json' | 'csv';

  @ApiPropertyOptional({ minimum: 1, maximum: 10_000, default: 10_000, description: 'meters per page' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(10_000)
  limit?: number;

  @ApiPropertyOptional({
    example: '1234ABCD',
    description: 'nextCursor of the previous page (JSON) or its X-Next-Cursor header (CSV)',
  })
  @IsOptional()
  @Matches(/^[0-9A-Fa-f]{8}$/, { message: 'must be a meter id from nextCursor' })
  cursor?: string;
}

export class RegisterValueItem {
  @ApiProperty({ format: 'date-time' })
  ts!: string;
  @ApiProperty()
  value!: number;
  @ApiProperty({ description: 'no reading at or before the boundary: this is the first one after it' })
  afterBoundary!: boolean;
}

export class TargetValueItem {
  @ApiProperty({ example: 'target_m3' })
  quantity!: string;
  @ApiProperty({ example: 1 })
  storage!: number;
  @ApiProperty({ example: 'm3' })
  unit!: string;
  @ApiProperty()
  value!: number;
  @ApiProperty({ format: 'date-time', description: 'when the meter last reported it in the period' })
  ts!: string;
}

export class MeterConsumptionItem {
  @ApiProperty({ example: '12345678' })
  meterId!: string;
  @ApiProperty({ example: 'total_m3' })
  quantity!: string;
  @ApiProperty({ nullable: true, type: String, example: 'm3' })
  unit!: string | null;
  @ApiProperty({ nullable: true, type: RegisterValueItem, description: 'register at period start' })
  start!: RegisterValueItem | null;
  @ApiProperty({ nullable: true, type: RegisterValueItem, description: 'register at period end' })
  end!: RegisterValueItem | null;
  @ApiProperty({ nullable: true, type: Number, description: 'end - start, in unit' })
  delta!: number | null;
  @ApiProperty({ description: 'silences longer than gapHours overlapping the period' })
  gapCount!: number;
  @ApiProperty()
  longestGapHours!: number;
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description: 'last reading before the first gap',
  })
  firstGapFrom!: string | null;
  @ApiProperty({ description: 'decreases of the register in the period' })
  decreases!: number;
  @ApiProperty({
    nullable: true,
    type: TargetValueItem,
    description: 'due-date register (target_m3, storage 1) last reported in the period',
  })
  target!: TargetValueItem | null;
  @ApiProperty({ enum: CONSUMPTION_FLAGS, isArray: true })
  flags!: ConsumptionFlag[];
}

export class MeterConsumptionResponse extends MeterConsumptionItem {
  @ApiProperty({ format: 'date-time' })
  from!: string;
  @ApiProperty({ format: 'date-time' })
  to!: string;
}

export class ConsumptionPage extends CursorPage {
  @ApiProperty({ format: 'date-time' })
  from!: string;
  @ApiProperty({ format: 'date-time' })
  to!: string;
  @ApiProperty({ example: 'total_m3' })
  quantity!: string;
  @ApiProperty({ type: [MeterConsumptionItem], description: 'one per meter, by meter id' })
  items!: MeterConsumptionItem[];
}
