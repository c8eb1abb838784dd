/** Roles, most powerful first. A platform admin acts in every society; the others only in their memberships. */
export const ROLES = ['platform_admin', 'society_admin', 'field_operator', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** Society-level roles: the ones a membership in one society can carry. */
export const SOCIETY_ROLES = ['society_admin', 'field_operator', 'viewer'] as const;
export type SocietyRole = (typeof SOCIETY_ROLES)[number];

/**
 * What a principal may do besides role checks: `read` tenant data, `ingest` telegrams and uploads. Users get
 * scopes from their role; an API key has exactly the one it was created with (billing: read, gateways: ingest).
 */
export const SCOPES = ['read', 'ingest'] as const;
export type Scope = (typeof SCOPES)[number];

export const API_KEY_SCOPES = SCOPES;
export type ApiKeyScope = Scope;

/** 'all' for platform admins; otherwise the societies the principal belongs to. */
export type SocietyAccess = 'all' | readonly string[];

/** How the principal authenticated. */
export type PrincipalSource = 'password' | 'oidc' | 'api_key';

export interface Principal {
  readonly kind: 'user' | 'api_key';
  /** User id (local users), `sub` of an external token (OIDC), or API key id. */
  readonly id: string;
  readonly source: PrincipalSource;
  /** The most powerful role held anywhere; what coarse `@Roles(...)` checks look at. */
  readonly role: Role;
  readonly societyIds: SocietyAccess;
  /** The role in each society (empty for platform admins, who hold every role everywhere). */
  readonly societyRoles: Readonly<Record<string, SocietyRole>>;
  readonly scopes: readonly Scope[];
}

const RANK: Readonly<Record<Role, number>> = {
  platform_admin: 0,
  society_admin: 1,
  field_operator: 2,
  viewer: 3,
};

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function isSocietyRole(value: unknown): value is SocietyRole {
  return typeof value === 'string' && (SOCIETY_ROLES as readonly string[]).includes(value);
}

/** The more powerful of two roles. */
export function higherRole(a: Role, b: Role): Role {
  return RANK[a] <= RANK[b] ? a : b;
}

/** Scopes that come with a user role: viewers only read; everyone else may also ingest (scan sessions, uploads). */
export function scopesOfRole(role: Role): readonly Scope[] {
  return role === 'viewer' ? ['read'] : ['read', 'ingest'];
}

/**
 * The principal of a user from their memberships: platform-wide when any membership is platform_admin,
 * otherwise one role per society. A user without memberships gets undefined: they may not use the API.
 */
export function userPrincipal(
  id: string,
  source: 'password' | 'oidc',
  memberships: readonly { societyId: string | null; role: Role }[],
): Principal | undefined {
  if (memberships.length === 0) return undefined;
  if (memberships.some((m) => m.role === 'platform_admin')) {
    return {
      kind: 'user',
      id,
      source,
      role: 'platform_admin',
      societyIds: 'all',
      societyRoles: {},
      scopes: scopesOfRole('platform_admin'),
    };
  }
  const societyRoles: Record<string, SocietyRole> = {};
  let role: Role = 'viewer';
  for (const membership of memberships) {
    if (membership.societyId === null || !isSocietyRole(membership.role)) continue;
    societyRoles[membership.societyId] = membership.role;
    role = higherRole(role, membership.role);
  }
  const societyIds = Object.keys(societyRoles);
  if (societyIds.length === 0) return undefined;
  return { kind: 'user', id, source, role, societyIds, societyRoles, scopes: scopesOfRole(role) };
}

/** An API key acts in its one society with its one scope, with viewer rights: it never administers anything. */
export function apiKeyPrincipal(id: string, societyId: string, scope: ApiKeyScope): Principal {
  return {
    kind: 'api_key',
    id,
    source: 'api_key',
    role: 'viewer',
    societyIds: [societyId],
    societyRoles: { [societyId]: 'viewer' },
    scopes: [scope],
  };
}

/** `user:<id>` or `api_key:<id>`, as written to the audit log. */
export function actorOf(principal: Principal): string {
  return principal.source === 'oidc' ? `oidc:${principal.id}` : `${principal.kind}:${principal.id}`;
}
