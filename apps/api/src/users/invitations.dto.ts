import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, SOCIETY_ROLES, type SocietyRole } from '@hes/auth';
import { IsEmail, IsIn, IsOptional, IsString, Length, MaxLength } from 'class-validator';
import { invitationStatus, type InvitationRecord } from './invitations.repository';

export class CreateInvitationRequest {
  @ApiProperty({ example: 'operator@example.org' })
  @IsEmail()
  @MaxLength(320)
  email!: string;

  @ApiProperty({ enum: SOCIETY_ROLES })
  @IsIn(SOCIETY_ROLES)
  role!: SocietyRole;
}

export class InvitationResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty({ format: 'uuid' })
  societyId!: string;
  @ApiProperty()
  email!: string;
  @ApiProperty({ enum: SOCIETY_ROLES })
  role!: string;
  @ApiProperty({ enum: ['pending', 'accepted', 'revoked', 'expired'] })
  status!: string;
  @ApiProperty({ description: 'who invited: user:<id>, oidc:<subject> or api_key:<id>' })
  invitedBy!: string;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ format: 'date-time' })
  expiresAt!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  acceptedAt!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  revokedAt!: string | null;

  static of(invitation: InvitationRecord, now = new Date()): InvitationResponse {
    return {
      id: invitation.id,
      societyId: invitation.societyId,
      email: invitation.email,
      role: invitation.role,
      status: invitationStatus(invitation, now),
      invitedBy: invitation.invitedBy,
      createdAt: invitation.createdAt.toISOString(),
      expiresAt: invitation.expiresAt.toISOString(),
      acceptedAt: invitation.acceptedAt?.toISOString() ?? null,
      revokedAt: invitation.revokedAt?.toISOString() ?? null,
    };
  }
}

export class CreatedInvitationResponse extends InvitationResponse {
  @ApiProperty({
    description:
      'The one-time invitation token, shown only in this answer (only its hash is stored): pass it on to the ' +
      'invited person, who accepts with POST /api/v1/invitations/accept',
  })
  token!: string;
}

export class AcceptInvitationRequest {
  @ApiProperty({ description: 'The invitation token the society admin passed on' })
  @IsString()
  @Length(1, 200)
  token!: string;

  @ApiPropertyOptional({
    format: 'password',
    minLength: PASSWORD_MIN_LENGTH,
    description:
      'The password of the account the invited email already has, or the password of the account to create. ' +
      'May be left out when the request carries an access token (Authorization: Bearer) of the invited account.',
  })
  @IsOptional()
  @IsString()
  @Length(PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH)
  password?: string;

  @ApiPropertyOptional({
    example: 'Asha Rao',
    description: 'Needed to create the account when the invited email has none; ignored otherwise',
  })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  displayName?: string;
}

export class AcceptedInvitationResponse {
  @ApiProperty({ format: 'uuid' })
  societyId!: string;
  @ApiProperty({ enum: SOCIETY_ROLES })
  role!: string;
  @ApiProperty({ format: 'uuid', description: 'the account that is now a member (log in with its email)' })
  userId!: string;
  @ApiProperty()
  email!: string;
}
