import {
  Body,
  ConflictException,
  Controller,
  Get,
  HttpCode,
  HttpStatus,
  Inject,
  Post,
  Query,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiConflictResponse,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiParam,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import {
  actorOf,
  CurrentPrincipal,
  findInTenantOrNotFound,
  notFound,
  requireSocietyRole,
  Roles,
  type Principal,
} from '@hes/auth';
import { ApiErrorResponse, errorBody } from '../http/api-error';
import { parseMeterId } from '../http/params';
import { StructureRepository } from '../structure/structure.repository';
import {
  AcknowledgeEventRequest,
  EventPage,
  EventResponse,
  ListEventsQuery,
  NotHeardMeter,
  NotHeardPage,
  NotHeardQuery,
} from './events.dto';
import { EventsRepository, type MeterEventRow } from './events.repository';
import { EventIdParam } from './event-id.param';
import { cursorPage, pageAfter, pageLimit } from '../http/page';

const CURSOR_TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const CURSOR_ID = /^\d{1,19}$/;
const CURSOR_METER = /^[0-9A-F]{8}$/;
const HOUR_MS = 3_600_000;

/**
 * Events and alarms raised by the pipeline (leak, burst, dry, reverse, tamper, low battery, ...), scoped to the
 * caller's societies through each event's meter; acknowledging records who and when.
 */
@ApiTags('events')
@ApiBearerAuth()
@ApiSecurity('api-key')
@Controller()
export class EventsController {
  constructor(
    @Inject(EventsRepository) private readonly events: EventsRepository,
    @Inject(StructureRepository) private readonly structure: StructureRepository,
  ) {}

  @Get('events')
  @ApiOkResponse({ type: EventPage, description: 'newest first; stable cursor pagination' })
  @ApiNotFoundResponse({ type: ApiErrorResponse, description: 'societyId or meterId not in your tenant' })
  async list(@CurrentPrincipal() principal: Principal, @Query() query: ListEventsQuery): Promise<EventPage> {
    const meterId = query.meterId === undefined ? undefined : parseMeterId(query.meterId);
    if (query.societyId !== undefined) await this.society(principal, query.societyId);
    // Platform admins may look up events of meters that are not registered (key_missing, first_seen).
    if (meterId !== undefined && principal.societyIds !== 'all') {
      if (!(await this.events.meterVisible(principal, meterId))) throw notFound('meter');
    }
    const limit = pageLimit(query);
    const rows = await this.events.list(principal, {
      societyId: query.societyId,
      meterId,
      kind: query.kind,
      from: query.from === undefined ? undefined : new Date(query.from),
      to: query.to === undefined ? undefined : new Date(query.to),
      acknowledged: query.acknowledged,
      after: pageAfter(query, { ts: CURSOR_TS, id: CURSOR_ID }),
      limit: limit + 1,
    });
    return cursorPage(rows, limit, EventResponse.of, (last) => ({ ts: last.cursorTs, id: last.id }));
  }

  @Get('events/:id')
  @ApiParam({ name: 'id', example: '42' })
  @ApiOkResponse({ type: EventResponse })
  @ApiNotFoundResponse({ type: ApiErrorResponse })
  async get(@CurrentPrincipal() principal: Principal, @EventIdParam() id: string): Promise<EventResponse> {
    return EventResponse.of(await this.event(principal, id));
  }

  @Roles('society_admin', 'field_operator')
  @Post('events/:id/acknowledge')
  @HttpCode(HttpStatus.OK)
  @ApiParam({ name: 'id', example: '42' })
  @ApiOkResponse({ type: EventResponse, description: 'the event, acknowledged by the caller' })
  @ApiForbiddenResponse({ type: ApiErrorResponse, description: 'viewers and API keys may not acknowledge' })
  @ApiNotFoundResponse({ type: ApiErrorResponse })
  @ApiConflictResponse({ type: ApiErrorResponse, description: 'already acknowledged; says by whom and when' })
  async acknowledge(
    @CurrentPrincipal() principal: Principal,
    @EventIdParam() id: string,
    @Body() body: AcknowledgeEventRequest,
  ): Promise<EventResponse> {
    const event = await this.event(principal, id);
    requireSocietyRole(principal, event.societyId, ['society_admin', 'field_operator'], 'event');
    const acknowledged = await this.events.acknowledge(id, actorOf(principal), body.note ?? null);
    if (acknowledged) return EventResponse.of(acknowledged);
    throw alreadyAcknowledged(await this.event(principal, id));
  }

  @Get('alarms/not-heard')
  @ApiOkResponse({
    type: NotHeardPage,
    description:
      'active meters of your societies not heard for `hours` hours, including meters never heard (neverHeard)',
  })
  @ApiNotFoundResponse({ type: ApiErrorResponse, description: 'societyId not in your tenant' })
  async notHeard(
    @CurrentPrincipal() principal: Principal,
    @Query() query: NotHeardQuery,
  ): Promise<NotHeardPage> {
    if (query.societyId !== undefined) await this.society(principal, query.societyId);
    const now = new Date();
    const since = new Date(now.getTime() - (query.hours ?? 24) * HOUR_MS);
    const limit = pageLimit(query);
    const rows = await this.events.notHeard(principal, {
      since,
      societyId: query.societyId,
      afterMeterId: pageAfter(query, { meterId: CURSOR_METER })?.meterId,
      limit: limit + 1,
    });
    return {
      ...cursorPage(
        rows,
        limit,
        (row) => NotHeardMeter.of(row, now),
        (last) => ({ meterId: last.meterId }),
      ),
      since: since.toISOString(),
    };
  }

  private event(principal: Principal, id: string): Promise<MeterEventRow> {
    return findInTenantOrNotFound(principal, 'event', () => this.events.find(principal, id));
  }

  private society(principal: Principal, id: string) {
    return findInTenantOrNotFound(principal, 'society', () => this.structure.findSociety(principal, id));
  }
}

function alreadyAcknowledged(event: MeterEventRow): ConflictException {
  const by = event.acknowledgedBy ?? 'unknown';
  const at = event.acknowledgedAt?.toISOString() ?? 'unknown';
  return new ConflictException(
    errorBody('already_acknowledged', `event ${event.id} was already acknowledged by ${by} at ${at}`, [
      { field: 'acknowledgedBy', message: by },
      { field: 'acknowledgedAt', message: at },
    ]),
  );
}
