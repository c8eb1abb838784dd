import { Body, ConflictException, Controller, Get, Inject, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches } from 'class-validator';
import { AuditLog, CurrentPrincipal, actorOf, Roles, type Principal } from '@hes/auth';
import { ApiErrorResponse } from '../http/api-error';
import { ClientIp } from '../http/client-ip';
import { MeterGroupsRepository, type MeterGroupRecord } from './meter-groups.repository';

export class CreateMeterGroupRequest {
  @ApiProperty({ example: 'north-zone', description: '1-100 characters, no surrounding spaces' })
  @IsString()
  @Length(1, 100)
  @Matches(/^\S(.*\S)?$/, { message: 'name must not start or end with whitespace' })
  name!: string;

  @ApiPropertyOptional({ maxLength: 500 })
  @IsOptional()
  @IsString()
  @Length(0, 500)
  description?: string;
}

export class MeterGroupResponse {
  @ApiProperty({ example: 2 })
  id!: number;
  @ApiProperty({ example: 'north-zone' })
  name!: string;
  @ApiProperty({ nullable: true, type: String })
  description!: string | null;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  static of(group: MeterGroupRecord): MeterGroupResponse {
    return {
      id: group.id,
      name: group.name,
      description: group.description,
      createdAt: group.createdAt.toISOString(),
    };
  }
}

@ApiTags('meters')
@ApiBearerAuth()
@ApiSecurity('api-key')
@Controller('meter-groups')
export class MeterGroupsController {
  constructor(
    @Inject(MeterGroupsRepository) private readonly groups: MeterGroupsRepository,
    @Inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Lists meter groups',
    description:
      'Groups are platform-wide (they partition the pipeline); every authenticated caller sees them.',
  })
  @ApiOkResponse({ type: [MeterGroupResponse] })
  async list(): Promise<MeterGroupResponse[]> {
    return (await this.groups.list()).map(MeterGroupResponse.of);
  }

  @Roles('platform_admin')
  @Post()
  @ApiOperation({ summary: 'Creates a meter group (platform admins)' })
  @ApiCreatedResponse({ type: MeterGroupResponse })
  @ApiForbiddenResponse({ type: ApiErrorResponse })
  @ApiConflictResponse({ type: ApiErrorResponse, description: 'a group with this name exists' })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body() body: CreateMeterGroupRequest,
    @ClientIp() ip?: string,
  ): Promise<MeterGroupResponse> {
    const group = await this.groups.create(body.name, body.description ?? null);
    if (!group) throw new ConflictException(`meter group '${body.name}' already exists`);
    await this.audit.write({
      actor: actorOf(principal),
      action: 'meter_group.create',
      target: `meter_group:${group.id}`,
      details: { name: group.name },
      ip,
    });
    return MeterGroupResponse.of(group);
  }
}
