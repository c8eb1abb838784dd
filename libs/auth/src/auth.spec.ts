import { ForbiddenException, NotFoundException } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AccessTokens } from './access-tokens';
import { Authenticator } from './authenticator';
import { AuthenticationError } from './errors';
import { hashPassword, verifyPassword } from './password';
import { apiKeyPrincipal, userPrincipal, type Principal } from './principal';
import { ApiKeyRepository } from './repositories';
import { findInTenantOrNotFound, requireSocietyRole, scopeToSocieties } from './tenancy';

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';

describe('userPrincipal', () => {
  it('makes any platform membership platform-wide', () => {
    const principal = userPrincipal('u', 'password', [
      { societyId: A, role: 'viewer' },
      { societyId: null, role: 'platform_admin' },
    ]);
    expect(principal).toMatchObject({ role: 'platform_admin', societyIds: 'all', societyRoles: {} });
  });

  it('keeps one role per society, the highest as the coarse role, and scopes from it', () => {
    const principal = userPrincipal('u', 'password', [
      { societyId: A, role: 'viewer' },
      { societyId: B, role: 'society_admin' },
    ]);
    expect(principal).toMatchObject({
      role: 'society_admin',
      societyIds: [A, B],
      societyRoles: { [A]: 'viewer', [B]: 'society_admin' },
      scopes: ['read', 'ingest'],
    });
    expect(userPrincipal('u', 'password', [{ societyId: A, role: 'viewer' }])?.scopes).toEqual(['read']);
    expect(userPrincipal('u', 'password', [])).toBeUndefined();
  });
});

describe('tenancy', () => {
  const admin = userPrincipal('u', 'password', [{ societyId: null, role: 'platform_admin' }]) as Principal;
  const mixed = userPrincipal('u', 'password', [
    { societyId: A, role: 'society_admin' },
    { societyId: B, role: 'viewer' },
  ]) as Principal;

  it('scopes SQL to the societies, or not at all for platform admins', () => {
    expect(scopeToSocieties(admin, 'm.society_id', 3)).toEqual({ sql: 'TRUE', params: [] });
    expect(scopeToSocieties(mixed, 'm.society_id', 3)).toEqual({
      sql: 'm.society_id = ANY($3::uuid[])',
      params: [[A, B]],
    });
    expect(() => scopeToSocieties(mixed, 'x; DROP TABLE meters', 1)).toThrow('is not a column reference');
  });

  it('answers 404 for resources of other tenants and for missing ones alike', async () => {
    await expect(findInTenantOrNotFound(mixed, 'tower', async () => ({ societyId: A }))).resolves.toEqual({
      societyId: A,
    });
    const other = findInTenantOrNotFound(mixed, 'tower', async () => ({ societyId: 'someone-else' }));
    await expect(other).rejects.toThrow(NotFoundException);
    await expect(other).rejects.toThrow('tower not found');
    await expect(findInTenantOrNotFound(mixed, 'tower', async () => undefined)).rejects.toThrow(
      'tower not found',
    );
    await expect(findInTenantOrNotFound(mixed, 'meter', async () => ({ societyId: null }))).rejects.toThrow(
      NotFoundException,
    );
    await expect(
      findInTenantOrNotFound(admin, 'meter', async () => ({ societyId: null })),
    ).resolves.toBeDefined();
  });

  it('requires a role in the society: 404 outside it, 403 inside with too little', () => {
    expect(() => requireSocietyRole(mixed, A, ['society_admin'])).not.toThrow();
    expect(() => requireSocietyRole(mixed, B, ['society_admin'])).toThrow(ForbiddenException);
    expect(() => requireSocietyRole(mixed, 'elsewhere', ['society_admin'])).toThrow(NotFoundException);
    expect(() => requireSocietyRole(admin, 'anywhere', ['society_admin'])).not.toThrow();
    const key = apiKeyPrincipal('k', A, 'read');
    expect(() => requireSocietyRole(key, A, ['society_admin', 'field_operator'])).toThrow(ForbiddenException);
  });
});

describe('AccessTokens', () => {
  const principal = userPrincipal('user-1', 'password', [
    { societyId: A, role: 'field_operator' },
  ]) as Principal;

  it('round-trips the principal', async () => {
    const tokens = new AccessTokens({ secret: randomBytes(32), issuer: 'hes', ttlSeconds: 900 });
    const { token, expiresAt } = await tokens.issue(principal);
    expect(expiresAt.getTime()).toBeGreaterThan(Date.now() + 890_000);
    expect(await tokens.verify(token)).toEqual(principal);
  });

  it('refuses expired tokens, other secrets and other issuers', async () => {
    const secret = randomBytes(32);
    const tokens = new AccessTokens({ secret, issuer: 'hes', ttlSeconds: 60 });
    const old = await tokens.issue(principal, new Date(Date.now() - 120_000));
    await expect(tokens.verify(old.token)).rejects.toThrow('access token expired');
    const { token } = await tokens.issue(principal);
    const otherSecret = new AccessTokens({ secret: randomBytes(32), issuer: 'hes', ttlSeconds: 60 });
    await expect(otherSecret.verify(token)).rejects.toThrow(AuthenticationError);
    const otherIssuer = new AccessTokens({ secret, issuer: 'other', ttlSeconds: 60 });
    await expect(otherIssuer.verify(token)).rejects.toThrow('invalid access token');
    expect(() => new AccessTokens({ secret: randomBytes(16), issuer: 'hes', ttlSeconds: 60 })).toThrow(
      '32 bytes',
    );
  });
});

describe('Authenticator, verified access tokens', () => {
  const principal = userPrincipal('user-1', 'password', [{ societyId: A, role: 'viewer' }]) as Principal;
  // No API key is presented in these tests, so the repository's pool is never used.
  const apiKeys = new ApiKeyRepository(undefined as never);

  afterEach(() => jest.useRealTimers());

  it('verifies a token once and answers repeats from the remembered principal', async () => {
    const tokens = new AccessTokens({ secret: randomBytes(32), issuer: 'hes', ttlSeconds: 900 });
    const verify = jest.spyOn(tokens, 'verify');
    const authenticator = new Authenticator(tokens, apiKeys, undefined);
    const { token } = await tokens.issue(principal);
    expect(await authenticator.authenticate(token)).toEqual(principal);
    expect(await authenticator.authenticate(token)).toEqual(principal);
    expect(verify).toHaveBeenCalledTimes(1);
    const forged = `${token.slice(0, -4)}AAAA`;
    await expect(authenticator.authenticate(forged)).rejects.toThrow('invalid access token');
    await expect(authenticator.authenticate(forged)).rejects.toThrow('invalid access token');
    expect(verify).toHaveBeenCalledTimes(3);
  });

  it('stops accepting a remembered token at its expiry, and re-verifies after a minute', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'], now: Date.now() });
    const tokens = new AccessTokens({ secret: randomBytes(32), issuer: 'hes', ttlSeconds: 30 });
    const verify = jest.spyOn(tokens, 'verify');
    const authenticator = new Authenticator(tokens, apiKeys, undefined);
    const shortLived = await tokens.issue(principal);
    expect(await authenticator.authenticate(shortLived.token)).toEqual(principal);
    jest.setSystemTime(shortLived.expiresAt.getTime() + 1);
    await expect(authenticator.authenticate(shortLived.token)).rejects.toThrow('access token expired');

    const longLived = new AccessTokens({ secret: randomBytes(32), issuer: 'hes', ttlSeconds: 900 });
    const verifyLong = jest.spyOn(longLived, 'verify');
    const other = new Authenticator(longLived, apiKeys, undefined);
    const { token } = await longLived.issue(principal);
    await other.authenticate(token);
    jest.setSystemTime(Date.now() + 61_000);
    await other.authenticate(token);
    expect(verifyLong).toHaveBeenCalledTimes(2);
    expect(verify).toHaveBeenCalledTimes(2);
  });
});

describe('passwords', () => {
  it('hashes with argon2id and verifies only the right password', async () => {
    const stored = await hashPassword('correct horse battery staple');
    expect(stored).toMatch(/^\$argon2id\$/);
    expect(await verifyPassword('correct horse battery staple', stored)).toBe(true);
    expect(await verifyPassword('wrong', stored)).toBe(false);
    expect(await verifyPassword('anything', null)).toBe(false);
    expect(await verifyPassword('anything', 'not a hash')).toBe(false);
  });
});
