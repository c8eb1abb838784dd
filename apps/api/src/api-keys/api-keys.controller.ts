import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Inject, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiProperty,
  ApiTags,
} from '@nestjs/swagger';
import {
  API_KEY_SCOPES,
  AuditLog,
  CurrentPrincipal,
  actorOf,
  findInTenantOrNotFound,
  notFound,
  requireSocietyRole,
  Roles,
  type ApiKeyScope,
  type Principal,
} from '@hes/auth';
import { generateApiKey, hashApiKey } from '@hes/keys';
import { IsIn, IsString, Length } from 'class-validator';
import { ClientIp } from '../http/client-ip';
import { UuidParam } from '../http/params';
import { ApiKeyAdminRepository, type ApiKeyView } from './api-key-admin.repository';

export class CreateApiKeyRequest {
  @ApiProperty({ example: 'billing export' })
  @IsString()
  @Length(1, 200)
  name!: string;

  @ApiProperty({ enum: API_KEY_SCOPES, description: 'read: billing/MDM systems; ingest: gateways' })
  @IsIn(API_KEY_SCOPES)
  scope!: ApiKeyScope;
}

export class ApiKeyResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty({ format: 'uuid' })
  societyId!: string;
  @ApiProperty()
  name!: string;
  @ApiProperty({ enum: API_KEY_SCOPES })
  scope!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String })
  createdBy!: string | null;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  lastUsedAt!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  revokedAt!: string | null;

  static of(key: ApiKeyView): ApiKeyResponse {
    return {
      id: key.id,
      societyId: key.societyId,
      name: key.name,
      scope: key.scope,
      createdBy: key.createdBy,
      createdAt: key.createdAt.toISOString(),
      lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
      revokedAt: key.revokedAt?.toISOString() ?? null,
    };
  }
}

export class CreatedApiKeyResponse extends ApiKeyResponse {
  @ApiProperty({ description: 'The key itself, shown only in this answer; only its hash is stored' })
  key!: string;
}

/**
 * Society API keys for machines: read-only for billing systems, ingest-only for gateways. Managed by the society's
 * admins; the key is returned once at creation and stored as its SHA-256 only.
 */
@ApiTags('api-keys')
@ApiBearerAuth()
@Roles('society_admin')
@Controller()
export class ApiKeysController {
  constructor(
    @Inject(ApiKeyAdminRepository) private readonly keys: ApiKeyAdminRepository,
    @Inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  @Post('societies/:id/api-keys')
  @ApiCreatedResponse({ type: CreatedApiKeyResponse })
  async create(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') societyId: string,
    @Body() body: CreateApiKeyRequest,
    @ClientIp() ip?: string,
  ): Promise<CreatedApiKeyResponse> {
    requireSocietyRole(principal, societyId, ['society_admin']);
    if (!(await this.keys.societyExists(societyId))) throw notFound('society');
    const key = generateApiKey();
    const record = await this.keys.create({
      societyId,
      name: body.name,
      scope: body.scope,
      keyHash: hashApiKey(key),
      createdBy: principal.kind === 'user' && principal.source === 'password' ? principal.id : null,
    });
    await this.audit.write({
      actor: actorOf(principal),
      action: 'api_key.create',
      target: `api_key:${record.id}`,
      societyId,
      details: { name: record.name, scope: record.scope },
      ip,
    });
    return { ...ApiKeyResponse.of(record), key };
  }

  @Get('societies/:id/api-keys')
  @ApiOkResponse({ type: [ApiKeyResponse] })
  async list(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') societyId: string,
  ): Promise<ApiKeyResponse[]> {
    requireSocietyRole(principal, societyId, ['society_admin']);
    if (!(await this.keys.societyExists(societyId))) throw notFound('society');
    return (await this.keys.listBySociety(societyId)).map(ApiKeyResponse.of);
  }

  @Get('api-keys/:id')
  @ApiOkResponse({ type: ApiKeyResponse })
  async get(@CurrentPrincipal() principal: Principal, @UuidParam('id') id: string): Promise<ApiKeyResponse> {
    const key = await this.key(principal, id);
    requireSocietyRole(principal, key.societyId, ['society_admin'], 'API key');
    return ApiKeyResponse.of(key);
  }

  @Delete('api-keys/:id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'revoked (revoking a revoked key changes nothing)' })
  async revoke(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') id: string,
    @ClientIp() ip?: string,
  ): Promise<void> {
    const key = await this.key(principal, id);
    requireSocietyRole(principal, key.societyId, ['society_admin'], 'API key');
    if (await this.keys.revoke(id)) {
      await this.audit.write({
        actor: actorOf(principal),
        action: 'api_key.revoke',
        target: `api_key:${id}`,
        societyId: key.societyId,
        details: { name: key.name, scope: key.scope },
        ip,
      });
    }
  }

  private key(principal: Principal, id: string): Promise<ApiKeyView> {
    return findInTenantOrNotFound(principal, 'API key', () => this.keys.find(principal, id));
  }
}
