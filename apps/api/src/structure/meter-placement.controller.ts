import { Body, Controller, Get, Inject, Param, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import {
  canAccessSociety,
  CurrentPrincipal,
  findInTenantOrNotFound,
  notFound,
  requireSocietyRole,
  Roles,
  type Principal,
} from '@hes/auth';
import { parseMeterId } from '../http/params';
import { PlacementRequest, PlacementResponse } from './structure.dto';
import { StructureRepository } from './structure.repository';

/** Who may place meters: those who install them and those who run the society. */
const PLACERS = ['society_admin', 'field_operator'] as const;

@ApiTags('structure')
@ApiBearerAuth()
@ApiSecurity('api-key')
@Controller('meters')
export class MeterPlacementController {
  constructor(@Inject(StructureRepository) private readonly structure: StructureRepository) {}

  @Get(':meterId/placement')
  @ApiOkResponse({ type: PlacementResponse })
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param('meterId') meterId: string,
  ): Promise<PlacementResponse> {
    return PlacementResponse.of(await this.placement(principal, parseMeterId(meterId)));
  }

  /**
   * Puts a meter into a society (and optionally one of its flats). The caller needs a placing role both where the
   * meter is now and where it goes; meters not yet in any society are visible to, and assigned by, platform admins.
   */
  @Roles(...PLACERS)
  @Put(':meterId/placement')
  @ApiOkResponse({ type: PlacementResponse })
  async place(
    @CurrentPrincipal() principal: Principal,
    @Param('meterId') meterIdParam: string,
    @Body() body: PlacementRequest,
  ): Promise<PlacementResponse> {
    const meterId = parseMeterId(meterIdParam);
    const current = await this.placement(principal, meterId);
    requireSocietyRole(principal, current.societyId, PLACERS, 'meter');
    if (!canAccessSociety(principal, body.societyId)) throw notFound('society');
    requireSocietyRole(principal, body.societyId, PLACERS);
    const society = await this.structure.findSociety(principal, body.societyId);
    if (!society) throw notFound('society');
    let flat = null;
    if (body.flatId) {
      flat = await this.structure.findFlat(principal, body.flatId);
      if (!flat || flat.societyId !== society.id) throw notFound('flat');
    }
    return PlacementResponse.of(await this.structure.setPlacement(meterId, society.id, flat));
  }

  private placement(principal: Principal, meterId: string) {
    return findInTenantOrNotFound(principal, 'meter', () => this.structure.findPlacement(principal, meterId));
  }
}
