import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Inject,
  Patch,
  Post,
  Put,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import {
  AuditLog,
  CurrentPrincipal,
  RefreshTokenRepository,
  actorOf,
  hashPassword,
  notFound,
  Roles,
  type Principal,
  type SocietyRole,
} from '@hes/auth';
import type { Pool } from 'pg';
import { ClientIp } from '../http/client-ip';
import { UuidParam } from '../http/params';
import { PG_POOL } from '../tokens';
import { requireSocietyAdmin } from './society-admin';
import { UserAdminRepository } from './user-admin.repository';
import {
  AddMemberRequest,
  CreateUserRequest,
  MemberResponse,
  SetRoleRequest,
  UpdateUserRequest,
  UserResponse,
} from './users.dto';

/** Platform-wide user administration: only platform admins create users and grant the platform role. */
@ApiTags('users')
@ApiBearerAuth()
@Roles('platform_admin')
@Controller('users')
export class UsersController {
  private readonly refreshTokens: RefreshTokenRepository;

  constructor(
    @Inject(UserAdminRepository) private readonly users: UserAdminRepository,
    @Inject(AuditLog) private readonly audit: AuditLog,
    @Inject(PG_POOL) pool: Pool,
  ) {
    this.refreshTokens = new RefreshTokenRepository(pool);
  }

  @Post()
  @ApiCreatedResponse({ type: UserResponse })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body() body: CreateUserRequest,
    @ClientIp() ip?: string,
  ): Promise<UserResponse> {
    const user = await this.users.create({
      email: body.email,
      displayName: body.displayName,
      passwordHash: body.password === undefined ? null : await hashPassword(body.password),
    });
    await this.audit.write({
      actor: actorOf(principal),
      action: 'user.create',
      target: `user:${user.id}`,
      details: { email: user.email },
      ip,
    });
    return UserResponse.of(await this.users.summary(user));
  }

  @Get()
  @ApiOkResponse({ type: [UserResponse] })
  async list(): Promise<UserResponse[]> {
    return (await this.users.list()).map(UserResponse.of);
  }

  @Get(':id')
  @ApiOkResponse({ type: UserResponse })
  async get(@UuidParam('id') id: string): Promise<UserResponse> {
    const user = await this.users.findById(id);
    if (!user) throw notFound('user');
    return UserResponse.of(await this.users.summary(user));
  }

  @Patch(':id')
  @ApiOkResponse({ type: UserResponse })
  async update(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') id: string,
    @Body() body: UpdateUserRequest,
    @ClientIp() ip?: string,
  ): Promise<UserResponse> {
    let user = await this.users.findById(id);
    if (!user) throw notFound('user');
    if (body.displayName !== undefined) await this.users.setDisplayName(id, body.displayName);
    if (body.disabled !== undefined && body.disabled !== user.disabled) {
      if (body.disabled && principal.kind === 'user' && principal.id === id) {
        throw new BadRequestException('you cannot disable yourself');
      }
      await this.users.setDisabled(id, body.disabled);
      if (body.disabled) await this.refreshTokens.revokeUser(id);
      await this.audit.write({
        actor: actorOf(principal),
        action: body.disabled ? 'user.disable' : 'user.enable',
        target: `user:${id}`,
        ip,
      });
    }
    user = await this.users.findById(id);
    return UserResponse.of(await this.users.summary(user!));
  }

  @Put(':id/platform-admin')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'the user is a platform admin' })
  async grantPlatformAdmin(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') id: string,
    @ClientIp() ip?: string,
  ): Promise<void> {
    if (!(await this.users.findById(id))) throw notFound('user');
    const previous = await this.users.setMembership(id, null, 'platform_admin');
    if (previous === undefined) {
      await this.audit.write({
        actor: actorOf(principal),
        action: 'membership.set',
        target: `user:${id}`,
        details: { role: 'platform_admin', previousRole: null },
        ip,
      });
    }
  }

  @Delete(':id/platform-admin')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'the user is no longer a platform admin' })
  async revokePlatformAdmin(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') id: string,
    @ClientIp() ip?: string,
  ): Promise<void> {
    if (principal.kind === 'user' && principal.id === id) {
      throw new BadRequestException('you cannot remove your own platform admin role');
    }
    if ((await this.users.removeMembership(id, null)) === undefined) throw notFound('platform membership');
    await this.audit.write({
      actor: actorOf(principal),
      action: 'membership.remove',
      target: `user:${id}`,
      details: { role: 'platform_admin' },
      ip,
    });
  }
}

/** A society's members, managed by its admins (and platform admins). */
@ApiTags('users')
@ApiBearerAuth()
@Roles('society_admin')
@Controller('societies/:id/members')
export class SocietyMembersController {
  constructor(
    @Inject(UserAdminRepository) private readonly users: UserAdminRepository,
    @Inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  @Get()
  @ApiOkResponse({ type: [MemberResponse] })
  async list(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') societyId: string,
  ): Promise<MemberResponse[]> {
    await requireSocietyAdmin(this.users, principal, societyId);
    return (await this.users.members(societyId)).map(MemberResponse.of);
  }

  /**
   * Platform admins only: makes an existing user (by id, see GET /users) a member with a role at once. Society
   * admins invite instead (POST /societies/{id}/invitations), so they never learn which emails have accounts nor
   * attach anyone without their consent.
   */
  @Post()
  @Roles('platform_admin')
  @ApiOperation({ summary: 'Platform admins: make an existing user a member of the society at once' })
  @ApiCreatedResponse({ type: MemberResponse })
  async add(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') societyId: string,
    @Body() body: AddMemberRequest,
    @ClientIp() ip?: string,
  ): Promise<MemberResponse> {
    await requireSocietyAdmin(this.users, principal, societyId);
    if (!(await this.users.findById(body.userId))) throw notFound('user');
    await this.setRole(principal, societyId, body.userId, body.role, ip);
    return MemberResponse.of((await this.users.member(societyId, body.userId))!);
  }

  @Put(':userId')
  @ApiOkResponse({ type: MemberResponse })
  async update(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') societyId: string,
    @UuidParam('userId') userId: string,
    @Body() body: SetRoleRequest,
    @ClientIp() ip?: string,
  ): Promise<MemberResponse> {
    await requireSocietyAdmin(this.users, principal, societyId);
    if (!(await this.users.member(societyId, userId))) throw notFound('member');
    await this.setRole(principal, societyId, userId, body.role, ip);
    return MemberResponse.of((await this.users.member(societyId, userId))!);
  }

  @Delete(':userId')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse()
  async remove(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') societyId: string,
    @UuidParam('userId') userId: string,
    @ClientIp() ip?: string,
  ): Promise<void> {
    await requireSocietyAdmin(this.users, principal, societyId);
    const previous = await this.users.removeMembership(userId, societyId);
    if (previous === undefined) throw notFound('member');
    await this.audit.write({
      actor: actorOf(principal),
      action: 'membership.remove',
      target: `user:${userId}`,
      societyId,
      details: { role: previous },
      ip,
    });
  }

  private async setRole(
    principal: Principal,
    societyId: string,
    userId: string,
    role: SocietyRole,
    ip?: string,
  ) {
    const previous = await this.users.setMembership(userId, societyId, role);
    if (previous !== role) {
      await this.audit.write({
        actor: actorOf(principal),
        action: 'membership.set',
        target: `user:${userId}`,
        societyId,
        details: { role, previousRole: previous ?? null },
        ip,
      });
    }
  }
}
