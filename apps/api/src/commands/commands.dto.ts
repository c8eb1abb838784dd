import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsObject, IsOptional } from 'class-validator';
import { z } from 'zod';
import { ApiValidationException } from '../http/api-error';
import { CursorPage } from '../http/page';
import {
  COMMAND_KINDS,
  type CommandKind,
  type CommandStatus,
  type MeterCommand,
} from './commands.repository';

/**
 * The parameters each command kind takes. read_request, connect and disconnect take none; set_interval sets
 * how often the meter transmits, in seconds (1 minute to 1 day). Unknown parameters are refused.
 */
const PARAMS_BY_KIND: Readonly<Record<CommandKind, z.ZodType<Record<string, unknown>>>> = {
  read_request: z.strictObject({}),
  connect: z.strictObject({}),
  disconnect: z.strictObject({}),
  set_interval: z.strictObject({ intervalSeconds: z.number().int().min(60).max(86_400) }),
};

/** The validated parameters of a command, or a 400 naming each bad field as `params.<name>`. */
export function commandParams(
  kind: CommandKind,
  params: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const parsed = PARAMS_BY_KIND[kind].safeParse(params ?? {});
  if (parsed.success) return parsed.data;
  throw new ApiValidationException(
    parsed.error.issues.flatMap((issue) => {
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
      return keys.map((key) => ({
        field: ['params', ...issue.path.map(String), ...(key === undefined ? [] : [key])].join('.'),
        message: issue.code === 'unrecognized_keys' ? `is not a parameter of ${kind}` : issue.message,
      }));
    }),
  );
}

export class CreateCommandRequest {
  @ApiProperty({ enum: COMMAND_KINDS, example: 'set_interval' })
  @IsIn(COMMAND_KINDS)
  kind!: CommandKind;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    example: { intervalSeconds: 900 },
    description: 'set_interval: { intervalSeconds: 60..86400 }; the other kinds take none',
  })
  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;
}

export class CommandResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty({ example: '12345678' })
  meterId!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String })
  societyId!: string | null;
  @ApiProperty({ enum: COMMAND_KINDS })
  kind!: CommandKind;
  @ApiProperty({ type: 'object', additionalProperties: true })
  params!: Record<string, unknown>;
  @ApiProperty({
    enum: ['queued', 'sent', 'failed'],
    description: 'sent: acknowledged by the message broker; failed: the broker did not take it (see error)',
  })
  status!: CommandStatus;
  @ApiProperty({ example: 'user:6f1c1f1e-4a57-4c4b-9f67-1f0cbbd1d5a1' })
  requestedBy!: string;
  @ApiProperty({ format: 'date-time' })
  requestedAt!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  sentAt!: string | null;
  @ApiProperty({ nullable: true, type: String })
  error!: string | null;

  static of(command: MeterCommand): CommandResponse {
    return {
      id: command.id,
      meterId: command.meterId,
      societyId: command.societyId,
      kind: command.kind,
      params: command.params,
      status: command.status,
      requestedBy: command.requestedBy,
      requestedAt: command.requestedAt.toISOString(),
      sentAt: command.sentAt?.toISOString() ?? null,
      error: command.error,
    };
  }
}

export class CommandPage extends CursorPage {
  @ApiProperty({ type: [CommandResponse], description: 'newest first' })
  items!: CommandResponse[];
}
