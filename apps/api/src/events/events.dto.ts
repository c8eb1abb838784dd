import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Max,
  Min,
} from 'class-validator';
import { CursorPage, PageQuery } from '../http/page';
import { EVENT_KINDS, type EventKind, type MeterEventRow, type NotHeardMeterRow } from './events.repository';

/** Query booleans arrive as text; anything but true/false is left as is for @IsBoolean to refuse. */
const toBoolean = ({ value }: { value: unknown }) =>
  value === 'true' ? true : value === 'false' ? false : value;

export class ListEventsQuery extends PageQuery {
  @ApiPropertyOptional({ format: 'uuid', description: 'only events of meters in this society' })
  @IsOptional()
  @IsUUID()
  societyId?: string;

  @ApiPropertyOptional({ example: '12345678', description: '8 hex digits, any case' })
  @IsOptional()
  @IsString()
  meterId?: string;

  @ApiPropertyOptional({ enum: EVENT_KINDS })
  @IsOptional()
  @IsIn(EVENT_KINDS)
  kind?: EventKind;

  @ApiPropertyOptional({ format: 'date-time', description: 'events at or after this time (UTC ISO 8601)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'events before this time (UTC ISO 8601)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @ApiPropertyOptional({ description: 'true: acknowledged only; false: open only' })
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean()
  acknowledged?: boolean;
}

export class AcknowledgeEventRequest {
  @ApiPropertyOptional({ example: 'valve replaced, leak fixed', maxLength: 1000 })
  @IsOptional()
  @IsString()
  @Length(1, 1000)
  note?: string;
}

export class EventAcknowledgement {
  @ApiProperty({ example: 'user:6f1c1f1e-4a57-4c4b-9f67-1f0cbbd1d5a1', description: 'who acknowledged' })
  by!: string;
  @ApiProperty({ format: 'date-time' })
  at!: string;
  @ApiProperty({ nullable: true, type: String })
  note!: string | null;
}

export class EventResponse {
  @ApiProperty({ example: '42', description: 'event id (a decimal integer, as text)' })
  id!: string;
  @ApiProperty({ example: '12345678' })
  meterId!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String, description: "the meter's society" })
  societyId!: string | null;
  @ApiProperty({ format: 'date-time', description: 'receive time of the telegram that raised the event' })
  ts!: string;
  @ApiProperty({ enum: EVENT_KINDS })
  kind!: EventKind;
  @ApiProperty({ type: 'object', additionalProperties: true })
  details!: Record<string, unknown>;
  @ApiProperty()
  acknowledged!: boolean;
  @ApiProperty({ type: EventAcknowledgement, nullable: true })
  acknowledgement!: EventAcknowledgement | null;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  static of(row: MeterEventRow): EventResponse {
    return {
      id: row.id,
      meterId: row.meterId,
      societyId: row.societyId,
      ts: row.ts.toISOString(),
      kind: row.kind,
      details: row.details,
      acknowledged: row.acknowledgedAt !== null,
      acknowledgement:
        row.acknowledgedAt !== null && row.acknowledgedBy !== null
          ? { by: row.acknowledgedBy, at: row.acknowledgedAt.toISOString(), note: row.acknowledgementNote }
          : null,
      createdAt: row.createdAt.toISOString(),
    };
  }
}

export class EventPage extends CursorPage {
  @ApiProperty({ type: [EventResponse], description: 'newest first (ts, then id)' })
  items!: EventResponse[];
}

export class NotHeardQuery extends PageQuery {
  @ApiPropertyOptional({
    minimum: 1,
    maximum: 8760,
    default: 24,
    description: 'not heard for this many hours',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(8760)
  hours?: number;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  societyId?: string;
}

export class NotHeardMeter {
  @ApiProperty({ example: '12345678' })
  meterId!: string;
  @ApiProperty({ format: 'uuid' })
  societyId!: string;
  @ApiProperty({ description: 'no telegram of this meter was ever stored' })
  neverHeard!: boolean;
  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  lastSeenAt!: string | null;
  @ApiProperty({ nullable: true, type: Number, description: 'hours since lastSeenAt, one decimal' })
  hoursSinceSeen!: number | null;
  @ApiProperty({ nullable: true, type: Number, description: 'signal strength of the last telegram, dBm' })
  lastRssiDbm!: number | null;
  @ApiProperty({ nullable: true, type: String, example: 'gateway' })
  lastSource!: string | null;
  @ApiProperty({ nullable: true, type: String })
  lastGatewayId!: string | null;
  @ApiProperty({ type: [String], description: 'status flags of the last telegram' })
  statusFlags!: string[];

  static of(row: NotHeardMeterRow, now: Date): NotHeardMeter {
    return {
      meterId: row.meterId,
      societyId: row.societyId,
      neverHeard: row.lastSeenAt === null,
      lastSeenAt: row.lastSeenAt?.toISOString() ?? null,
      hoursSinceSeen:
        row.lastSeenAt === null
          ? null
          : Math.round((now.getTime() - row.lastSeenAt.getTime()) / 360_000) / 10,
      lastRssiDbm: row.lastRssiDbm,
      lastSource: row.lastSource,
      lastGatewayId: row.lastGatewayId,
      statusFlags: row.statusFlags,
    };
  }
}

export class NotHeardPage extends CursorPage {
  @ApiProperty({ type: [NotHeardMeter], description: 'by meter id' })
  items!: NotHeardMeter[];
  @ApiProperty({ format: 'date-time', description: 'meters not heard since this time are listed' })
  since!: string;
}
