import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, SOCIETY_ROLES, type SocietyRole } from '@hes/auth';
import { IsBoolean, IsEmail, IsIn, IsOptional, IsString, IsUUID, Length, MaxLength } from 'class-validator';
import type { MemberView, UserSummary } from './user-admin.repository';

export class CreateUserRequest {
  @ApiProperty({ example: 'operator@example.org' })
  @IsEmail()
  @MaxLength(320)
  email!: string;

  @ApiProperty({ example: 'Asha Rao' })
  @IsString()
  @Length(1, 200)
  displayName!: string;

  @ApiPropertyOptional({
    format: 'password',
    minLength: PASSWORD_MIN_LENGTH,
    description: 'absent: the user can only sign in through the external identity provider',
  })
  @IsOptional()
  @IsString()
  @Length(PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH)
  password?: string;
}

export class UpdateUserRequest {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(1, 200)
  displayName?: string;

  @ApiPropertyOptional({ description: 'true ends all sessions of the user and blocks logins' })
  @IsOptional()
  @IsBoolean()
  disabled?: boolean;
}

export class AddMemberRequest {
  @ApiProperty({ format: 'uuid', description: 'an existing user (POST /users creates one)' })
  @IsUUID()
  userId!: string;

  @ApiProperty({ enum: SOCIETY_ROLES })
  @IsIn(SOCIETY_ROLES)
  role!: SocietyRole;
}

export class SetRoleRequest {
  @ApiProperty({ enum: SOCIETY_ROLES })
  @IsIn(SOCIETY_ROLES)
  role!: SocietyRole;
}

export class MembershipView {
  @ApiProperty({ format: 'uuid', nullable: true, type: String, description: 'null: platform-wide' })
  societyId!: string | null;
  @ApiProperty({ enum: ['platform_admin', ...SOCIETY_ROLES] })
  role!: string;
}

export class UserResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty()
  email!: string;
  @ApiProperty()
  displayName!: string;
  @ApiProperty()
  disabled!: boolean;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ type: [MembershipView] })
  memberships!: MembershipView[];

  static of(user: UserSummary): UserResponse {
    return {
      id: user.id,
      email: user.email,
      displayName: user.displayName,
      disabled: user.disabled,
      createdAt: new Date(user.createdAt).toISOString(),
      memberships: user.memberships,
    };
  }
}

export class MemberResponse {
  @ApiProperty({ format: 'uuid' })
  userId!: string;
  @ApiProperty()
  email!: string;
  @ApiProperty()
  displayName!: string;
  @ApiProperty()
  disabled!: boolean;
  @ApiProperty({ enum: SOCIETY_ROLES })
  role!: string;

  static of(member: MemberView): MemberResponse {
    return { ...member };
  }
}
