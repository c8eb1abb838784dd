import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Inject, Patch, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import {
  CurrentPrincipal,
  findInTenantOrNotFound,
  requireSocietyRole,
  Roles,
  type Principal,
} from '@hes/auth';
import { UuidParam } from '../http/params';
import { FlatResponse, NameRequest, TowerResponse } from './structure.dto';
import { StructureRepository, type Tower } from './structure.repository';

@ApiTags('structure')
@ApiBearerAuth()
@ApiSecurity('api-key')
@Controller('towers')
export class TowersController {
  constructor(@Inject(StructureRepository) private readonly structure: StructureRepository) {}

  @Get(':id')
  @ApiOkResponse({ type: TowerResponse })
  async get(@CurrentPrincipal() principal: Principal, @UuidParam('id') id: string): Promise<TowerResponse> {
    return TowerResponse.of(await this.tower(principal, id));
  }

  @Roles('society_admin')
  @Patch(':id')
  @ApiOkResponse({ type: TowerResponse })
  async rename(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') id: string,
    @Body() body: NameRequest,
  ): Promise<TowerResponse> {
    await this.towerAsSocietyAdmin(principal, id);
    return TowerResponse.of(await this.structure.renameTower(id, body.name));
  }

  /** Deletes the tower with its flats; meters placed there stay in the society, unplaced. */
  @Roles('society_admin')
  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse()
  async remove(@CurrentPrincipal() principal: Principal, @UuidParam('id') id: string): Promise<void> {
    await this.towerAsSocietyAdmin(principal, id);
    await this.structure.deleteTower(id);
  }

  @Get(':id/flats')
  @ApiOkResponse({ type: [FlatResponse] })
  async flats(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') id: string,
  ): Promise<FlatResponse[]> {
    await this.tower(principal, id);
    return (await this.structure.listFlats(id)).map(FlatResponse.of);
  }

  @Roles('society_admin')
  @Post(':id/flats')
  @ApiCreatedResponse({ type: FlatResponse })
  async createFlat(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') id: string,
    @Body() body: NameRequest,
  ): Promise<FlatResponse> {
    const tower = await this.towerAsSocietyAdmin(principal, id);
    return FlatResponse.of(await this.structure.createFlat(tower, body.name));
  }

  /** The tower, when the caller administers its society (404 outside the tenant, 403 for other roles). */
  private async towerAsSocietyAdmin(principal: Principal, id: string): Promise<Tower> {
    const tower = await this.tower(principal, id);
    requireSocietyRole(principal, tower.societyId, ['society_admin'], 'tower');
    return tower;
  }

  private tower(principal: Principal, id: string): Promise<Tower> {
    return findInTenantOrNotFound(principal, 'tower', () => this.structure.findTower(principal, id));
  }
}
