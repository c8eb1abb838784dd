import {
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { IncomingMessage } from 'node:http';
import { Authenticator, credentialOf } from './authenticator';
import {
  DEFAULT_SCOPES,
  PUBLIC_ROUTE,
  REQUIRED_ROLES,
  REQUIRED_SCOPES,
  type RequestWithPrincipal,
} from './decorators';
import { AuthenticationError } from './errors';
import type { Role, Scope } from './principal';

/**
 * The global guard: every route needs a valid credential unless it is @Public(). Then the route's scopes
 * (default: read) and its coarse @Roles(...) are checked; both failures are 403 and are decided before any
 * resource is looked up, so they reveal nothing about other tenants.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(Authenticator) private readonly authenticator: Authenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return false;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const request = context.switchToHttp().getRequest<IncomingMessage & RequestWithPrincipal>();
    let principal;
    try {
      const credential = credentialOf(request.headers);
      if (credential === undefined) {
        throw new AuthenticationError('authentication required: Authorization: Bearer <token> or X-API-Key');
      }
      principal = await this.authenticator.authenticate(credential);
    } catch (error) {
      if (error instanceof AuthenticationError) throw new UnauthorizedException(error.message);
      throw error;
    }
    request.principal = principal;

    const scopes =
      this.reflector.getAllAndOverride<Scope[] | undefined>(REQUIRED_SCOPES, targets) ?? DEFAULT_SCOPES;
    const missing = scopes.filter((scope) => !principal.scopes.includes(scope));
    if (missing.length > 0) throw new ForbiddenException(`credential lacks the ${missing.join(', ')} scope`);
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(REQUIRED_ROLES, targets);
    if (
      roles &&
      roles.length > 0 &&
      !(principal.role === 'platform_admin' || roles.includes(principal.role))
    ) {
      throw new ForbiddenException(`role ${principal.role} may not do this (needs ${roles.join(' or ')})`);
    }
    return true;
  }
}
