import {
  Body,
  ConflictException,
  Controller,
  Delete,
  ForbiddenException,
  Get,
  HttpCode,
  HttpStatus,
  Inject,
  Param,
  Patch,
  Post,
  Query,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import {
  AuditLog,
  CurrentPrincipal,
  actorOf,
  findInTenantOrNotFound,
  notFound,
  requireSocietyRole,
  roleIn,
  Roles,
  type Principal,
} from '@hes/auth';
import { cursorPage, pageAfter, pageLimit } from '../http/page';
import { ApiErrorResponse } from '../http/api-error';
import { ClientIp } from '../http/client-ip';
import { parseMeterId } from '../http/params';
import { LatestReadings } from '../readings/latest-readings';
import { StructureRepository } from '../structure/structure.repository';
import {
  CreateMeterRequest,
  ListMetersQuery,
  MeterIdParam,
  MeterDetailResponse,
  MeterPage,
  MeterResponse,
  UpdateMeterRequest,
} from './meters.dto';
import { MeterGroupsRepository } from './meter-groups.repository';
import { MetersRepository, type MeterFields, type MeterRecord } from './meters.repository';

/** Who administers meters: all registry fields, create and delete. */
const METER_ADMINS = ['society_admin'] as const;
/** Field operators install meters: they may record where and when, nothing else. */
const INSTALLERS = ['society_admin', 'field_operator'] as const;
const INSTALLATION_FIELDS: readonly (keyof UpdateMeterRequest)[] = [
  'installedAt',
  'location',
  'notes',
  'flatId',
];

const CURSOR_METER = /^[0-9A-F]{8}$/;

@ApiTags('meters')
@ApiBearerAuth()
@ApiSecurity('api-key')
@Controller('meters')
export class MetersController {
  constructor(
    @Inject(MetersRepository) private readonly meters: MetersRepository,
    @Inject(MeterGroupsRepository) private readonly groups: MeterGroupsRepository,
    @Inject(StructureRepository) private readonly structure: StructureRepository,
    @Inject(LatestReadings) private readonly latest: LatestReadings,
    @Inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  @Get()
  @ApiOperation({
    summary: "Lists the caller's meters",
    description:
      'Meters of the caller’s societies (platform admins: all, including meters without a society), in meter id ' +
      'order with cursor pagination. A societyId, towerId or flatId outside the caller’s tenant answers 404.',
  })
  @ApiOkResponse({ type: MeterPage })
  @ApiNotFoundResponse({
    type: ApiErrorResponse,
    description: 'society, tower, flat or meter group not found',
  })
  async list(@CurrentPrincipal() principal: Principal, @Query() query: ListMetersQuery): Promise<MeterPage> {
    if (query.societyId !== undefined && !(await this.structure.findSociety(principal, query.societyId)))
      throw notFound('society');
    if (query.towerId !== undefined && !(await this.structure.findTower(principal, query.towerId)))
      throw notFound('tower');
    if (query.flatId !== undefined && !(await this.structure.findFlat(principal, query.flatId)))
      throw notFound('flat');
    if (query.groupId !== undefined && !(await this.groups.exists(query.groupId)))
      throw notFound('meter group');
    const limit = pageLimit(query);
    const rows = await this.meters.list(
      principal,
      {
        societyId: query.societyId,
        towerId: query.towerId,
        flatId: query.flatId,
        groupId: query.groupId,
        status: query.status,
        manufacturer: query.manufacturer,
        notHeardSince: query.notHeardSince === undefined ? undefined : new Date(query.notHeardSince),
        idPrefix: query.search,
      },
      {
        limit: limit + 1,
        afterMeterId: pageAfter(query, { meterId: CURSOR_METER })?.meterId,
      },
    );
    return cursorPage(rows, limit, MeterResponse.of, (last) => ({ meterId: last.meterId }));
  }

  @Get(':meterId')
  @MeterIdParam()
  @ApiOperation({
    summary: 'One meter: registry data, placement, key fingerprint, last sighting and latest values',
    description:
      'The key itself is never returned. A meter of another tenant answers 404 like a missing one.',
  })
  @ApiOkResponse({ type: MeterDetailResponse })
  @ApiNotFoundResponse({ type: ApiErrorResponse })
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param('meterId') meterIdParam: string,
  ): Promise<MeterDetailResponse> {
    const meter = await this.meter(principal, parseMeterId(meterIdParam));
    return MeterDetailResponse.withLatest(meter, await this.latest.ofMeter(meter.meterId, meter.historyFrom));
  }

  @Roles(...METER_ADMINS)
  @Post()
  @ApiOperation({
    summary: 'Registers a meter',
    description:
      'Needs society_admin in the meter’s society; meters without a society are created by platform admins only. ' +
      'Meter ids are global (one radio meter exists once): an id registered anywhere answers 409.',
  })
  @ApiCreatedResponse({ type: MeterDetailResponse })
  @ApiForbiddenResponse({ type: ApiErrorResponse })
  @ApiNotFoundResponse({ type: ApiErrorResponse, description: 'society, flat or meter group not found' })
  @ApiConflictResponse({ type: ApiErrorResponse, description: 'the meter id is already registered' })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body() body: CreateMeterRequest,
    @ClientIp() ip?: string,
  ): Promise<MeterDetailResponse> {
    const societyId = body.societyId ?? null;
    await this.checkSocietyTarget(principal, societyId);
    await this.checkFlat(principal, societyId, body.flatId ?? null);
    if (body.groupId !== undefined && !(await this.groups.exists(body.groupId)))
      throw notFound('meter group');
    const created = await this.meters.create({
      meterId: body.meterId,
      manufacturer: body.manufacturer,
      deviceType: body.deviceType,
      version: body.version,
      ...registryFields(body),
      societyId,
    });
    if (!created) throw new ConflictException('meter id is already registered');
    await this.audit.write({
      actor: actorOf(principal),
      action: 'meter.create',
      target: `meter:${body.meterId}`,
      societyId,
      ip,
    });
    return this.get(principal, body.meterId);
  }

  @Roles(...INSTALLERS)
  @Patch(':meterId')
  @MeterIdParam()
  @ApiOperation({
    summary: 'Changes a meter’s registry data',
    description:
      'society_admin may change every field (moving a meter to another society needs society_admin there too); ' +
      'field_operator may change installation data only: installedAt, location, notes, flatId. Changing the ' +
      'society without a flatId takes the meter out of its flat.',
  })
  @ApiOkResponse({ type: MeterDetailResponse })
  @ApiForbiddenResponse({ type: ApiErrorResponse })
  @ApiNotFoundResponse({ type: ApiErrorResponse })
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('meterId') meterIdParam: string,
    @Body() body: UpdateMeterRequest,
    @ClientIp() ip?: string,
  ): Promise<MeterDetailResponse> {
    const meter = await this.meter(principal, parseMeterId(meterIdParam));
    requireSocietyRole(principal, meter.societyId, INSTALLERS, 'meter');
    const changed = (Object.keys(body) as (keyof UpdateMeterRequest)[]).filter(
      (field) => body[field] !== undefined,
    );
    if (changed.length === 0)
      return MeterDetailResponse.withLatest(
        meter,
        await this.latest.ofMeter(meter.meterId, meter.historyFrom),
      );
    if (roleIn(principal, meter.societyId) === 'field_operator') {
      const refused = changed.filter((field) => !INSTALLATION_FIELDS.includes(field));
      if (refused.length > 0)
        throw new ForbiddenException(
          `role field_operator may only change installation data, not ${refused.join(', ')}`,
        );
    }
    const changes: MeterFields = { ...registryFields(body) };
    let societyId = meter.societyId;
    if (body.societyId !== undefined && body.societyId !== meter.societyId) {
      societyId = body.societyId;
      await this.checkSocietyTarget(principal, societyId);
      changes.societyId = societyId;
      if (body.flatId === undefined) changes.flatId = null;
    }
    if (body.flatId !== undefined) await this.checkFlat(principal, societyId, body.flatId);
    if (body.groupId !== undefined && !(await this.groups.exists(body.groupId)))
      throw notFound('meter group');
    await this.meters.update(meter.meterId, changes);
    await this.audit.write({
      actor: actorOf(principal),
      action: 'meter.update',
      target: `meter:${meter.meterId}`,
      societyId,
      details: {
        fields: changed,
        ...(societyId !== meter.societyId ? { fromSocietyId: meter.societyId } : {}),
      },
      ip,
    });
    return this.get(principal, meter.meterId);
  }

  @Roles(...METER_ADMINS)
  @Delete(':meterId')
  @MeterIdParam()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    summary: 'Deletes a meter and its key',
    description:
      'Its stored readings and events stay as history. Needs society_admin in the meter’s society.',
  })
  @ApiNoContentResponse()
  @ApiForbiddenResponse({ type: ApiErrorResponse })
  @ApiNotFoundResponse({ type: ApiErrorResponse })
  async remove(
    @CurrentPrincipal() principal: Principal,
    @Param('meterId') meterIdParam: string,
    @ClientIp() ip?: string,
  ): Promise<void> {
    const meter = await this.meter(principal, parseMeterId(meterIdParam));
    requireSocietyRole(principal, meter.societyId, METER_ADMINS, 'meter');
    if (!(await this.meters.remove(meter.meterId))) throw notFound('meter');
    await this.audit.write({
      actor: actorOf(principal),
      action: 'meter.delete',
      target: `meter:${meter.meterId}`,
      societyId: meter.societyId,
      details: { hadKey: meter.keyFingerprint !== null },
      ip,
    });
  }

  /**
   * Where a meter may be put: a society the caller administers (404 when it cannot see it, 403 for a lesser role
   * there), or no society at all, which only platform admins may decide.
   */
  private async checkSocietyTarget(principal: Principal, societyId: string | null): Promise<void> {
    if (societyId === null) {
      if (principal.societyIds !== 'all')
        throw new ForbiddenException('only platform admins may keep meters outside a society');
      return;
    }
    requireSocietyRole(principal, societyId, METER_ADMINS);
    if (!(await this.structure.findSociety(principal, societyId))) throw notFound('society');
  }

  private async checkFlat(
    principal: Principal,
    societyId: string | null,
    flatId: string | null,
  ): Promise<void> {
    if (flatId === null) return;
    const flat = await this.structure.findFlat(principal, flatId);
    if (!flat || flat.societyId !== societyId) throw notFound('flat');
  }

  private meter(principal: Principal, meterId: string): Promise<MeterRecord> {
    return findInTenantOrNotFound(principal, 'meter', () => this.meters.find(principal, meterId));
  }
}

/** The request's registry fields as the repository takes them (meter id, society and flat are handled apart). */
function registryFields(body: CreateMeterRequest | UpdateMeterRequest): MeterFields {
  return {
    manufacturer: body.manufacturer,
    deviceType: body.deviceType,
    version: body.version,
    driver: body.driver,
    groupId: body.groupId,
    status: body.status,
    installedAt:
      body.installedAt === undefined || body.installedAt === null
        ? body.installedAt
        : new Date(body.installedAt),
    location: body.location,
    notes: body.notes,
    flatId: body.flatId,
  };
}
