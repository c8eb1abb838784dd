import { Body, Controller, Get, HttpCode, HttpStatus, Inject, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
} from '@nestjs/swagger';
import {
  CurrentPrincipal,
  LoginThrottle,
  PASSWORD_MAX_LENGTH,
  Public,
  RequireScopes,
  SessionService,
  type Principal,
  type TokenPair,
} from '@hes/auth';
import { IsEmail, IsString, MaxLength, MinLength } from 'class-validator';
import { ClientIp } from '../http/client-ip';

export class LoginRequest {
  @ApiProperty({ example: 'admin@example.org' })
  @IsEmail()
  @MaxLength(320)
  email!: string;

  @ApiProperty({ format: 'password' })
  @IsString()
  @MinLength(1)
  @MaxLength(PASSWORD_MAX_LENGTH)
  password!: string;
}

export class RefreshRequest {
  @ApiProperty({ description: 'The refresh token of the last login or refresh' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  refreshToken!: string;
}

export class TokenResponse {
  @ApiProperty({ enum: ['Bearer'] })
  tokenType!: 'Bearer';
  @ApiProperty({ description: 'HS256 JWT for Authorization: Bearer' })
  accessToken!: string;
  @ApiProperty({ format: 'date-time' })
  accessTokenExpiresAt!: string;
  @ApiProperty({
    description: 'Single use: each refresh returns a new one; reusing an old one ends the session',
  })
  refreshToken!: string;
  @ApiProperty({ format: 'date-time' })
  refreshTokenExpiresAt!: string;
}

export class PrincipalResponse {
  @ApiProperty({ enum: ['user', 'api_key'] })
  kind!: string;
  @ApiProperty()
  id!: string;
  @ApiProperty({ enum: ['password', 'oidc', 'api_key'] })
  source!: string;
  @ApiProperty({ enum: ['platform_admin', 'society_admin', 'field_operator', 'viewer'] })
  role!: string;
  @ApiPropertyOptional({
    description: "'all' for platform admins, else society ids",
    oneOf: [
      { type: 'string', enum: ['all'] },
      { type: 'array', items: { type: 'string', format: 'uuid' } },
    ],
  })
  societyIds!: 'all' | string[];
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    description: 'role per society id',
  })
  societyRoles!: Record<string, string>;
  @ApiProperty({ type: [String], enum: ['read', 'ingest'] })
  scopes!: string[];
}

function tokenResponse(pair: TokenPair): TokenResponse {
  return {
    tokenType: 'Bearer',
    accessToken: pair.accessToken,
    accessTokenExpiresAt: pair.accessTokenExpiresAt.toISOString(),
    refreshToken: pair.refreshToken,
    refreshTokenExpiresAt: pair.refreshTokenExpiresAt.toISOString(),
  };
}

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(@Inject(SessionService) private readonly sessions: SessionService) {}

  @Public()
  @LoginThrottle()
  @Post('login')
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: TokenResponse })
  async login(@Body() body: LoginRequest, @ClientIp() ip?: string): Promise<TokenResponse> {
    return tokenResponse(await this.sessions.login(body.email, body.password, ip));
  }

  @Public()
  @Post('refresh')
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: TokenResponse })
  async refresh(@Body() body: RefreshRequest, @ClientIp() ip?: string): Promise<TokenResponse> {
    return tokenResponse(await this.sessions.refresh(body.refreshToken, ip));
  }

  /** Public because possessing the refresh token is what proves the right to end its session. */
  @Public()
  @Post('logout')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse()
  async logout(@Body() body: RefreshRequest, @ClientIp() ip?: string): Promise<void> {
    await this.sessions.logout(body.refreshToken, ip);
  }

  @RequireScopes()
  @Get('me')
  @ApiBearerAuth()
  @ApiOkResponse({ type: PrincipalResponse })
  me(@CurrentPrincipal() principal: Principal): PrincipalResponse {
    return {
      kind: principal.kind,
      id: principal.id,
      source: principal.source,
      role: principal.role,
      societyIds: principal.societyIds === 'all' ? 'all' : [...principal.societyIds],
      societyRoles: { ...principal.societyRoles },
      scopes: [...principal.scopes],
    };
  }
}
