import { ForbiddenException, NotFoundException } from '@nestjs/common';
import type { Principal, Role } from './principal';

/** A WHERE-clause fragment with its parameters, numbered from the index the caller gave. */
export interface SqlFragment {
  sql: string;
  params: unknown[];
}

const COLUMN = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;

/**
 * The tenancy condition every repository query over tenant data includes: `column = ANY($n::uuid[])` for a
 * principal with memberships, `TRUE` for a platform admin. Rows whose society is NULL (meters not yet assigned)
 * are therefore visible to platform admins only.
 */
export function scopeToSocieties(principal: Principal, column: string, firstParamIndex: number): SqlFragment {
  if (!COLUMN.test(column)) throw new Error(`scopeToSocieties: '${column}' is not a column reference`);
  if (principal.societyIds === 'all') return { sql: 'TRUE', params: [] };
  return { sql: `${column} = ANY($${firstParamIndex}::uuid[])`, params: [principal.societyIds] };
}

export function canAccessSociety(principal: Principal, societyId: string | null): boolean {
  if (principal.societyIds === 'all') return true;
  return societyId !== null && principal.societyIds.includes(societyId);
}

/** The role a principal has in a society, or undefined when it has no access there. */
export function roleIn(principal: Principal, societyId: string | null): Role | undefined {
  if (principal.societyIds === 'all') return principal.role;
  return societyId === null ? undefined : principal.societyRoles[societyId];
}

/** 404 with the same message whether the resource does not exist or belongs to another tenant. */
export function notFound(what: string): NotFoundException {
  return new NotFoundException(`${what} not found`);
}

/**
 * The tenancy rule for single resources: a resource outside the principal's societies is answered exactly like
 * one that does not exist (404), never 403, so nobody learns what other tenants have. `load` should already
 * filter by tenancy; the society check here is the second line of defence.
 */
export async function findInTenantOrNotFound<T extends { societyId: string | null }>(
  principal: Principal,
  what: string,
  load: () => Promise<T | undefined>,
): Promise<T> {
  const found = await load();
  if (!found || !canAccessSociety(principal, found.societyId)) throw notFound(what);
  return found;
}

/**
 * For writes inside a society: 404 when the principal cannot see the society at all (tenancy rule), 403 when it
 * can but its role there is not one of `roles` (e.g. a viewer trying to write).
 */
export function requireSocietyRole(
  principal: Principal,
  societyId: string | null,
  roles: readonly Role[],
  what = 'society',
): void {
  const role = roleIn(principal, societyId);
  if (role === undefined) throw notFound(what);
  if (role !== 'platform_admin' && !roles.includes(role)) {
    throw new ForbiddenException(`role ${role} may not do this (needs ${roles.join(' or ')})`);
  }
}
