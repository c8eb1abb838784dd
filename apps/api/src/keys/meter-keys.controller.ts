import {
  Body,
  Controller,
  Delete,
  ForbiddenException,
  Get,
  HttpCode,
  HttpStatus,
  Inject,
  Param,
  Put,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiSecurity,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import {
  AuditLog,
  actorOf,
  canAccessSociety,
  CurrentPrincipal,
  findInTenantOrNotFound,
  notFound,
  requireSocietyRole,
  RequireScopes,
  Roles,
  type Principal,
} from '@hes/auth';
import { ApiErrorResponse } from '../http/api-error';
import { ClientIp } from '../http/client-ip';
import { parseMeterId } from '../http/params';
import { KEY_WRITERS } from './key-importer';
import { MeterKeyResponse, SetMeterKeyRequest } from './keys.dto';
import { MeterKeyVault, parseMeterKeyHex, type TenantMeter } from './meter-key-vault';

/** The refusal every key export attempt gets: keys leave the system only to the decryptors, never by API. */
export const KEY_EXPORT_REFUSAL = 'meter keys are never exported';

@ApiTags('keys')
@ApiBearerAuth()
@ApiSecurity('api-key')
@ApiNotFoundResponse({ type: ApiErrorResponse, description: 'no such meter in your societies' })
@Controller('meters')
export class MeterKeysController {
  constructor(
    @Inject(MeterKeyVault) private readonly vault: MeterKeyVault,
    @Inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  @Get(':meterId/key')
  @ApiOperation({ summary: "The meter key's fingerprint, version and when it was set (never the key)" })
  @ApiOkResponse({ type: MeterKeyResponse })
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param('meterId') meterIdParam: string,
  ): Promise<MeterKeyResponse> {
    const meter = await this.meter(principal, parseMeterId(meterIdParam));
    const info = await this.vault.info(meter.meterId);
    if (!info) throw notFound('meter key');
    return MeterKeyResponse.of(meter.meterId, info);
  }

  @Roles(...KEY_WRITERS)
  @Put(':meterId/key')
  @ApiOperation({
    summary: "Sets or rotates a meter's AES-128 key",
    description:
      'Stored encrypted at rest; decryptors pick the new key up at once. The response and the audit log carry ' +
      "the fingerprint only. Needs society_admin in the meter's society (or platform_admin).",
  })
  @ApiOkResponse({ type: MeterKeyResponse })
  @ApiForbiddenResponse({ type: ApiErrorResponse, description: "not society_admin in the meter's society" })
  @ApiServiceUnavailableResponse({ type: ApiErrorResponse, description: 'no master key configured' })
  async set(
    @CurrentPrincipal() principal: Principal,
    @Param('meterId') meterIdParam: string,
    @Body() body: SetMeterKeyRequest,
    @ClientIp() ip?: string,
  ): Promise<MeterKeyResponse> {
    const meter = await this.meterAsKeyWriter(principal, parseMeterId(meterIdParam));
    const key = parseMeterKeyHex(body.key);
    if (!key) throw new Error('SetMeterKeyRequest validation let an invalid key through');
    try {
      const stored = await this.vault.store(meter.meterId, key);
      await this.audit.write({
        actor: actorOf(principal),
        action: stored.version === 1 ? 'meter_key.set' : 'meter_key.rotate',
        target: `meter:${meter.meterId}`,
        societyId: meter.societyId,
        details: { fingerprint: stored.fingerprint, version: stored.version },
        ip,
      });
      return MeterKeyResponse.of(meter.meterId, stored);
    } finally {
      key.fill(0);
    }
  }

  @Roles(...KEY_WRITERS)
  @Delete(':meterId/key')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: "Removes a meter's key; its telegrams stay undecrypted until a new key is set" })
  @ApiNoContentResponse()
  @ApiForbiddenResponse({ type: ApiErrorResponse, description: "not society_admin in the meter's society" })
  async remove(
    @CurrentPrincipal() principal: Principal,
    @Param('meterId') meterIdParam: string,
    @ClientIp() ip?: string,
  ): Promise<void> {
    const meter = await this.meterAsKeyWriter(principal, parseMeterId(meterIdParam));
    const info = await this.vault.info(meter.meterId);
    if (!info || !(await this.vault.remove(meter.meterId))) throw notFound('meter key');
    await this.audit.write({
      actor: actorOf(principal),
      action: 'meter_key.delete',
      target: `meter:${meter.meterId}`,
      societyId: meter.societyId,
      details: { fingerprint: info.fingerprint, version: info.version },
      ip,
    });
  }

  /**
   * Always refused: there is no way to read a meter key back. The attempt is audit-logged (for meters outside the
   * caller's societies too, which answer 404 like a missing meter and are logged without their society).
   */
  @RequireScopes()
  @Get(':meterId/key/export')
  @ApiOperation({ summary: 'Refused: meter keys are never exported (the attempt is audit-logged)' })
  @ApiForbiddenResponse({ type: ApiErrorResponse, description: KEY_EXPORT_REFUSAL })
  async export(
    @CurrentPrincipal() principal: Principal,
    @Param('meterId') meterIdParam: string,
    @ClientIp() ip?: string,
  ): Promise<never> {
    const meterId = parseMeterId(meterIdParam);
    const meter = (await this.vault.metersInTenant(principal, [meterId])).get(meterId);
    const visible = meter !== undefined && canAccessSociety(principal, meter.societyId);
    await this.audit.write({
      actor: actorOf(principal),
      action: 'meter_key.export_attempt',
      target: `meter:${meterId}`,
      societyId: visible ? meter.societyId : null,
      details: { outcome: visible ? 'refused' : 'meter_not_found' },
      ip,
    });
    if (!visible) throw notFound('meter');
    throw new ForbiddenException(KEY_EXPORT_REFUSAL);
  }

  private async meterAsKeyWriter(principal: Principal, meterId: string): Promise<TenantMeter> {
    const meter = await this.meter(principal, meterId);
    requireSocietyRole(principal, meter.societyId, KEY_WRITERS, 'meter');
    return meter;
  }

  private meter(principal: Principal, meterId: string): Promise<TenantMeter> {
    return findInTenantOrNotFound(principal, 'meter', async () =>
      (await this.vault.metersInTenant(principal, [meterId])).get(meterId),
    );
  }
}
