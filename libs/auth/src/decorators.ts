import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import type { Principal, Role, Scope } from './principal';

export const PUBLIC_ROUTE = 'hes:auth:public';
export const REQUIRED_ROLES = 'hes:auth:roles';
export const REQUIRED_SCOPES = 'hes:auth:scopes';
export const LOGIN_THROTTLE = 'hes:auth:login-throttle';

/** Scopes a route needs when it does not say: reading tenant data. */
export const DEFAULT_SCOPES: readonly Scope[] = ['read'];

/** The route needs no credential (login, refresh, health). Everything else is authenticated by the global guard. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/**
 * Coarse role gate: the principal must hold one of `roles` somewhere (its highest role counts). Society-level
 * checks (which society, 404 vs 403) are done with requireSocietyRole where the society is known.
 */
export const Roles = (...roles: Role[]) => SetMetadata(REQUIRED_ROLES, roles);

/** Scopes the principal must all have; `@RequireScopes()` with none admits any authenticated principal. */
export const RequireScopes = (...scopes: Scope[]) => SetMetadata(REQUIRED_SCOPES, scopes);

/** The stricter per-address limit for credential guessing (login). */
export const LoginThrottle = () => SetMetadata(LOGIN_THROTTLE, true);

/** The request's authenticated principal (set by AuthGuard). */
export interface RequestWithPrincipal {
  principal?: Principal;
}

export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal => {
    const principal = context.switchToHttp().getRequest<RequestWithPrincipal>().principal;
    // Only reachable on a @Public() route, which must not ask for a principal: a programming error.
    if (!principal) throw new Error('CurrentPrincipal used on a route without authentication');
    return principal;
  },
);
