import {
  Body,
  Controller,
  Get,
  Inject,
  Param,
  Post,
  Query,
  ServiceUnavailableException,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiParam,
  ApiSecurity,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import {
  actorOf,
  AuditLog,
  CurrentPrincipal,
  findInTenantOrNotFound,
  requireSocietyRole,
  Roles,
  type Principal,
} from '@hes/auth';
import { MESSAGE_VERSION } from '@hes/messaging';
import { ClientIp } from '../http/client-ip';
import { ApiErrorResponse, errorBody } from '../http/api-error';
import { parseMeterId, UuidParam } from '../http/params';
import { cursorPage, pageAfter, pageLimit, PageQuery } from '../http/page';
import { COMMANDS } from '../tokens';
import type { MeterCommandSink } from './command-publisher';
import { CommandPage, CommandResponse, commandParams, CreateCommandRequest } from './commands.dto';
import { CommandsRepository, type CommandTarget } from './commands.repository';

const CURSOR_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const CURSOR_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Commands to meters (read request, connect, disconnect, reporting interval): recorded, then produced to the
 * commands topic partitioned by the meter's group. A command is 'sent' only once the broker acknowledged it.
 */
@ApiTags('commands')
@ApiBearerAuth()
@ApiSecurity('api-key')
@Controller()
export class CommandsController {
  constructor(
    @Inject(CommandsRepository) private readonly commands: CommandsRepository,
    @Inject(COMMANDS) private readonly sink: MeterCommandSink,
    @Inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  @Roles('society_admin', 'field_operator')
  @Post('meters/:meterId/commands')
  @ApiParam({ name: 'meterId', example: '12345678', description: '8 hex digits, any case' })
  @ApiCreatedResponse({
    type: CommandResponse,
    description: 'recorded and acknowledged by the broker (status sent)',
  })
  @ApiForbiddenResponse({ type: ApiErrorResponse, description: 'viewers and API keys may not send commands' })
  @ApiNotFoundResponse({ type: ApiErrorResponse })
  @ApiServiceUnavailableResponse({
    type: ApiErrorResponse,
    description: 'the broker did not take the command: it is recorded as failed (details name its id)',
  })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Param('meterId') meterIdParam: string,
    @Body() body: CreateCommandRequest,
    @ClientIp() ip?: string,
  ): Promise<CommandResponse> {
    const target = await this.target(principal, parseMeterId(meterIdParam));
    requireSocietyRole(principal, target.societyId, ['society_admin', 'field_operator'], 'meter');
    const params = commandParams(body.kind, body.params);
    const actor = actorOf(principal);
    const command = await this.commands.create({ target, kind: body.kind, params, requestedBy: actor });
    await this.audit.write({
      actor,
      action: 'meter.command',
      target: `meter:${target.meterId}`,
      societyId: target.societyId,
      details: { commandId: command.id, kind: command.kind },
      ip,
    });
    try {
      await this.sink.publish(
        {
          v: MESSAGE_VERSION,
          commandId: command.id,
          kind: command.kind,
          issuedAt: command.requestedAt.getTime(),
          target: command.meterId,
          params,
        },
        target.meterGroup,
      );
    } catch (error) {
      const failed = await this.commands.markFailed(command.id, (error as Error).message);
      throw new ServiceUnavailableException(
        errorBody('unavailable', 'the message broker did not accept the command; it is recorded as failed', [
          { field: 'commandId', message: failed.id },
        ]),
      );
    }
    return CommandResponse.of(await this.commands.markSent(command.id));
  }

  @Get('meters/:meterId/commands')
  @ApiParam({ name: 'meterId', example: '12345678', description: '8 hex digits, any case' })
  @ApiOkResponse({ type: CommandPage })
  @ApiNotFoundResponse({ type: ApiErrorResponse })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Param('meterId') meterIdParam: string,
    @Query() query: PageQuery,
  ): Promise<CommandPage> {
    const target = await this.target(principal, parseMeterId(meterIdParam));
    const limit = pageLimit(query);
    const after = pageAfter(query, { requestedAt: CURSOR_AT, id: CURSOR_ID });
    const rows = await this.commands.listForMeter(principal, target, { after, limit: limit + 1 });
    return cursorPage(rows, limit, CommandResponse.of, (last) => ({
      requestedAt: last.cursorAt,
      id: last.id,
    }));
  }

  @Get('commands/:id')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: CommandResponse })
  @ApiNotFoundResponse({ type: ApiErrorResponse })
  async get(@CurrentPrincipal() principal: Principal, @UuidParam('id') id: string): Promise<CommandResponse> {
    return CommandResponse.of(
      await findInTenantOrNotFound(principal, 'command', () => this.commands.find(principal, id)),
    );
  }

  private target(principal: Principal, meterId: string): Promise<CommandTarget> {
    return findInTenantOrNotFound(principal, 'meter', () => this.commands.findTarget(principal, meterId));
  }
}
