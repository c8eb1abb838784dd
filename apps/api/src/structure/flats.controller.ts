import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Inject, Patch } from '@nestjs/common';
import { ApiBearerAuth, ApiNoContentResponse, ApiOkResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import {
  CurrentPrincipal,
  findInTenantOrNotFound,
  requireSocietyRole,
  Roles,
  type Principal,
} from '@hes/auth';
import { UuidParam } from '../http/params';
import { FlatResponse, NameRequest } from './structure.dto';
import { StructureRepository, type Flat } from './structure.repository';

@ApiTags('structure')
@ApiBearerAuth()
@ApiSecurity('api-key')
@Controller('flats')
export class FlatsController {
  constructor(@Inject(StructureRepository) private readonly structure: StructureRepository) {}

  @Get(':id')
  @ApiOkResponse({ type: FlatResponse })
  async get(@CurrentPrincipal() principal: Principal, @UuidParam('id') id: string): Promise<FlatResponse> {
    return FlatResponse.of(await this.flat(principal, id));
  }

  @Roles('society_admin')
  @Patch(':id')
  @ApiOkResponse({ type: FlatResponse })
  async rename(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') id: string,
    @Body() body: NameRequest,
  ): Promise<FlatResponse> {
    await this.flatAsSocietyAdmin(principal, id);
    return FlatResponse.of(await this.structure.renameFlat(id, body.name));
  }

  /** Meters placed in the flat stay in the society, unplaced. */
  @Roles('society_admin')
  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse()
  async remove(@CurrentPrincipal() principal: Principal, @UuidParam('id') id: string): Promise<void> {
    await this.flatAsSocietyAdmin(principal, id);
    await this.structure.deleteFlat(id);
  }

  /** The flat, when the caller administers its society (404 outside the tenant, 403 for other roles). */
  private async flatAsSocietyAdmin(principal: Principal, id: string): Promise<Flat> {
    const flat = await this.flat(principal, id);
    requireSocietyRole(principal, flat.societyId, ['society_admin'], 'flat');
    return flat;
  }

  private flat(principal: Principal, id: string): Promise<Flat> {
    return findInTenantOrNotFound(principal, 'flat', () => this.structure.findFlat(principal, id));
  }
}
