import {
  Body,
  ConflictException,
  Controller,
  Delete,
  Get,
  GoneException,
  Headers,
  HttpCode,
  HttpStatus,
  Inject,
  NotFoundException,
  Post,
  UnauthorizedException,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiGoneResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import {
  AuditLog,
  AuthenticationError,
  Authenticator,
  CurrentPrincipal,
  LoginThrottle,
  Public,
  Roles,
  actorOf,
  credentialOf,
  generateInvitationToken,
  hashInvitationToken,
  hashPassword,
  notFound,
  verifyPassword,
  type Principal,
} from '@hes/auth';
import { ApiErrorResponse, errorBody } from '../http/api-error';
import { ClientIp } from '../http/client-ip';
import { UuidParam } from '../http/params';
import { requireSocietyAdmin } from './society-admin';
import { UserAdminRepository } from './user-admin.repository';
import {
  AcceptedInvitationResponse,
  AcceptInvitationRequest,
  CreatedInvitationResponse,
  CreateInvitationRequest,
  InvitationResponse,
} from './invitations.dto';
import {
  InvitationsRepository,
  invitationStatus,
  type Acceptance,
  type InvitationRecord,
} from './invitations.repository';

/** How long an invitation token stays valid (API_INVITATION_TTL_SECONDS). */
export class InvitationSettings {
  constructor(readonly ttlSeconds: number) {}
}

/**
 * Invitations into a society, managed by its admins (and platform admins). Inviting answers the same whether or
 * not the email has an account, and shows nothing of other societies' users: the admin learns only what they
 * typed, plus the token to pass on.
 */
@ApiTags('users')
@ApiBearerAuth()
@Roles('society_admin')
@Controller('societies/:id/invitations')
export class SocietyInvitationsController {
  constructor(
    @Inject(InvitationsRepository) private readonly invitations: InvitationsRepository,
    @Inject(UserAdminRepository) private readonly users: UserAdminRepository,
    @Inject(InvitationSettings) private readonly settings: InvitationSettings,
    @Inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  @Post()
  @ApiOperation({
    summary: 'Invite an email into the society with a role (replaces a pending invitation of that email)',
  })
  @ApiCreatedResponse({ type: CreatedInvitationResponse })
  async create(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') societyId: string,
    @Body() body: CreateInvitationRequest,
    @ClientIp() ip?: string,
  ): Promise<CreatedInvitationResponse> {
    await requireSocietyAdmin(this.users, principal, societyId);
    const token = generateInvitationToken();
    const email = body.email.toLowerCase();
    const invitation = await this.invitations.create(
      {
        societyId,
        email,
        role: body.role,
        tokenHash: hashInvitationToken(token),
        invitedBy: actorOf(principal),
        expiresAt: new Date(Date.now() + this.settings.ttlSeconds * 1000),
      },
      {
        actor: actorOf(principal),
        action: 'invitation.create',
        societyId,
        details: { email, role: body.role },
        ip,
      },
    );
    return { ...InvitationResponse.of(invitation), token };
  }

  @Get()
  @ApiOperation({ summary: "The society's invitations, newest first (never their tokens)" })
  @ApiOkResponse({ type: [InvitationResponse] })
  async list(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') societyId: string,
  ): Promise<InvitationResponse[]> {
    await requireSocietyAdmin(this.users, principal, societyId);
    const now = new Date();
    return (await this.invitations.listBySociety(societyId)).map((invitation) =>
      InvitationResponse.of(invitation, now),
    );
  }

  @Delete(':invitationId')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Revoke an invitation: its token no longer lets anyone in' })
  @ApiNoContentResponse({ description: 'revoked (revoking a revoked or expired invitation changes nothing)' })
  async revoke(
    @CurrentPrincipal() principal: Principal,
    @UuidParam('id') societyId: string,
    @UuidParam('invitationId') invitationId: string,
    @ClientIp() ip?: string,
  ): Promise<void> {
    await requireSocietyAdmin(this.users, principal, societyId);
    const invitation = await this.invitations.findInSociety(societyId, invitationId);
    if (!invitation) throw notFound('invitation');
    if (invitation.acceptedAt !== null) {
      throw new ConflictException('the invitation was accepted already: remove the member instead');
    }
    if (await this.invitations.revoke(societyId, invitationId)) {
      await this.audit.write({
        actor: actorOf(principal),
        action: 'invitation.revoke',
        target: `invitation:${invitationId}`,
        societyId,
        details: { email: invitation.email, role: invitation.role },
        ip,
      });
    }
  }
}

/**
 * The one answer for every failed proof of the invited account, whether the email has an account or not, so the
 * token's holder (the inviting admin holds it too) cannot learn which emails have accounts by trying.
 */
const CREDENTIALS_REFUSED = errorBody(
  'invitation_credentials_refused',
  "the invited email's account was not proven: give its password (or send an access token of that account); " +
    'if the email has no account yet, give displayName and a password to create it',
);

/** Accepting an invitation: public, because the invitation token (with the account's proof) is the credential. */
@ApiTags('users')
@Controller('invitations')
export class InvitationAcceptController {
  constructor(
    @Inject(InvitationsRepository) private readonly invitations: InvitationsRepository,
    @Inject(UserAdminRepository) private readonly users: UserAdminRepository,
    @Inject(Authenticator) private readonly authenticator: Authenticator,
    @Inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  @Public()
  @LoginThrottle()
  @Post('accept')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Accept an invitation: join the society with the invited role',
    description:
      "When the invited email already has an account, the request proves it with that account's password or " +
      'with an access token of that account (Authorization: Bearer, from POST /auth/login). When it has none, ' +
      'displayName and password create it. Rate limited like login.',
  })
  @ApiOkResponse({ type: AcceptedInvitationResponse })
  @ApiUnauthorizedResponse({
    type: ApiErrorResponse,
    description:
      'invitation_credentials_refused: the account was not proven (or, for a new email, not described)',
  })
  @ApiNotFoundResponse({
    type: ApiErrorResponse,
    description: 'invitation_not_found: no invitation has this token',
  })
  @ApiGoneResponse({
    type: ApiErrorResponse,
    description: 'invitation_expired, invitation_used or invitation_revoked',
  })
  async accept(
    @Body() body: AcceptInvitationRequest,
    @Headers('authorization') authorization?: string,
    @ClientIp() ip?: string,
  ): Promise<AcceptedInvitationResponse> {
    const tokenHash = hashInvitationToken(body.token);
    const invitation = await this.invitations.findByTokenHash(tokenHash);
    requireAcceptable(invitation);
    const account = await this.provenAccount(invitation, body, authorization, ip);
    const acceptance: Acceptance = {
      check: requireAcceptable,
      user: account,
      audit: { actor: (userId) => `user:${userId}`, ip },
    };
    const accepted = await this.invitations.accept(tokenHash, acceptance);
    return {
      societyId: accepted.invitation.societyId,
      role: accepted.invitation.role,
      userId: accepted.userId,
      email: accepted.invitation.email,
    };
  }

  /**
   * The existing account of the invited email once proven, or the account to create. Every path that refuses spends
   * about the same time as the one that succeeds with a password (one Argon2 operation), so timing says no more
   * than the answer.
   */
  private async provenAccount(
    invitation: InvitationRecord,
    body: AcceptInvitationRequest,
    authorization: string | undefined,
    ip: string | undefined,
  ): Promise<Acceptance['user']> {
    const user = await this.users.findByEmail(invitation.email);
    let refusal: string;
    if (user) {
      const proven =
        (await this.bearerUserId(authorization)) === user.id ||
        (body.password !== undefined && (await verifyPassword(body.password, user.passwordHash)));
      if (proven && !user.disabled) return user;
      refusal = proven ? 'disabled' : 'not_proven';
    } else if (body.displayName !== undefined && body.password !== undefined) {
      return {
        email: invitation.email,
        displayName: body.displayName,
        passwordHash: await hashPassword(body.password),
      };
    } else {
      if (body.password !== undefined) await verifyPassword(body.password, null);
      refusal = 'new_account_incomplete';
    }
    await this.audit.write({
      actor: user ? `user:${user.id}` : 'anonymous',
      action: 'invitation.accept_failed',
      target: `invitation:${invitation.id}`,
      societyId: invitation.societyId,
      details: { reason: refusal },
      ip,
    });
    throw new UnauthorizedException(CREDENTIALS_REFUSED);
  }

  /** The local user an access token in the Authorization header belongs to; undefined without a header. */
  private async bearerUserId(authorization: string | undefined): Promise<string | undefined> {
    if (authorization === undefined) return undefined;
    let principal: Principal;
    try {
      const credential = credentialOf({ authorization });
      if (credential === undefined) return undefined;
      principal = await this.authenticator.authenticate(credential);
    } catch (error) {
      if (error instanceof AuthenticationError) {
        throw new UnauthorizedException(errorBody('unauthorized', `access token refused: ${error.message}`));
      }
      throw error;
    }
    return principal.kind === 'user' && principal.source === 'password' ? principal.id : undefined;
  }
}

/** Throws the specific error for an invitation that can no longer be accepted. */
function requireAcceptable(invitation: InvitationRecord | undefined): asserts invitation is InvitationRecord {
  if (!invitation) {
    throw new NotFoundException(errorBody('invitation_not_found', 'no invitation has this token'));
  }
  switch (invitationStatus(invitation)) {
    case 'accepted':
      throw new GoneException(errorBody('invitation_used', 'the invitation was accepted already'));
    case 'revoked':
      throw new GoneException(errorBody('invitation_revoked', 'the invitation was revoked'));
    case 'expired':
      throw new GoneException(
        errorBody('invitation_expired', `the invitation expired at ${invitation.expiresAt.toISOString()}`),
      );
    case 'pending':
      return;
  }
}
