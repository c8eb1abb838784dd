import {
  Body,
  ConflictException,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Inject,
  Patch,
  Post,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import {
  AuditLog,
  CurrentPrincipal,
  actorOf,
  findInTenantOrNotFound,
  requireSocietyRole,
  Roles,
  type Principal,
} from '@hes/auth';
import { ClientIp } from '../http/client-ip';
import { UuidParam } from '../http/params';
import {
  CreateSocietyRequest,
  NameRequest,
  SocietyResponse,
  SocietyStructureResponse,
  TowerResponse,
  UpdateSocietyRequest,
} from './structure.dto';
import { StructureRepository } from './structure.repository';

@ApiTags('structure')
@ApiBearerAuth()
@ApiSecurity('api-key')
@Controller('societies')
export class SocietiesController {
  constructor(
    @Inject(StructureRepository) private readonly structure: StructureRepository,
    @Inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  @Get()
  @ApiOkResponse({ type: [SocietyResponse], description: "the caller's societies (all for platform admins)" })
  async list(@CurrentPrincipal() principal: Principal): Promise<SocietyResponse[]> {
    return (await this.structure.listSocieties(principal)).map(SocietyResponse.of);
  }

  @Roles('platform_admin')
  @Post()
  @ApiCreatedResponse({ type: SocietyResponse })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body() body: CreateSocietyRequest,
    @ClientIp() ip?: string,
  ): Promise<SocietyResponse> {
    const society = await this.structure.createSociety(body);
    await this.audit.write({
      actor: actorOf(principal),
      action: 'society.create',
      target: `society:${society.id}`,
      societyId: society.id,
      details: { name: society.name },
      ip,
    });
    return SocietyResponse.of(society);
  }

  @Get(':id')
  @ApiOkResponse({ type: SocietyResponse })
  async get(@CurrentPrincipal() principal: Principal, @UuidParam('id') id: string): Promise<SocietyResponse> {
    return SocietyResponse.of(await this.society(principal, id));
  }

  @Roles('society_admin')
  @Patch(':id')
  @ApiOkResponse({ type: SocietyResponse })
  async update(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') id: string,
    @Body() body: UpdateSocietyRequest,
  ): Promise<SocietyResponse> {
    requireSocietyRole(principal, id, ['society_admin']);
    await this.society(principal, id);
    return SocietyResponse.of(await this.structure.updateSociety(id, body));
  }

  @Roles('platform_admin')
  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse()
  async remove(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') id: string,
    @ClientIp() ip?: string,
  ): Promise<void> {
    const society = await this.society(principal, id);
    const result = await this.structure.deleteSociety(id);
    if (!result.deleted) {
      throw new ConflictException(
        `the society still has ${result.meterCount} meters: move or remove them first`,
      );
    }
    await this.audit.write({
      actor: actorOf(principal),
      action: 'society.delete',
      target: `society:${id}`,
      societyId: id,
      details: { name: society.name },
      ip,
    });
  }

  @Get(':id/structure')
  @ApiOkResponse({ type: SocietyStructureResponse, description: 'towers and flats with meter counts' })
  async tree(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') id: string,
  ): Promise<SocietyStructureResponse> {
    return this.structure.structure(await this.society(principal, id));
  }

  @Get(':id/towers')
  @ApiOkResponse({ type: [TowerResponse] })
  async towers(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') id: string,
  ): Promise<TowerResponse[]> {
    await this.society(principal, id);
    return (await this.structure.listTowers(id)).map(TowerResponse.of);
  }

  @Roles('society_admin')
  @Post(':id/towers')
  @ApiCreatedResponse({ type: TowerResponse })
  async createTower(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') id: string,
    @Body() body: NameRequest,
  ): Promise<TowerResponse> {
    requireSocietyRole(principal, id, ['society_admin']);
    await this.society(principal, id);
    return TowerResponse.of(await this.structure.createTower(id, body.name));
  }

  private society(principal: Principal, id: string) {
    return findInTenantOrNotFound(principal, 'society', () => this.structure.findSociety(principal, id));
  }
}
