import { ConfigError, loadConfig } from './config';

function issuesOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    return (error as ConfigError).issues.map((issue) => `${issue.variable}: ${issue.message}`);
  }
  return [];
}

describe('API settings', () => {
  it('defaults to 15-minute access tokens, 30-day refresh tokens, no OIDC and no secret', () => {
    const { api } = loadConfig({});
    expect(api.jwt).toEqual({
      secret: undefined,
      issuer: 'hes',
      accessTokenTtlSeconds: 900,
      refreshTokenTtlSeconds: 2_592_000,
    });
    expect(api.oidc).toBeUndefined();
    expect(api.rateLimit).toEqual({ requestsPerMinute: 600, loginAttemptsPerMinute: 10 });
  });

  it('keeps invitation tokens valid for 7 days unless API_INVITATION_TTL_SECONDS says otherwise', () => {
    expect(loadConfig({}).api.invitationTtlSeconds).toBe(604_800);
    expect(loadConfig({ API_INVITATION_TTL_SECONDS: '86400' }).api.invitationTtlSeconds).toBe(86_400);
    expect(issuesOf({ API_INVITATION_TTL_SECONDS: '60' })).toEqual([
      "API_INVITATION_TTL_SECONDS: '60' is not an integer in 300..2592000",
    ]);
  });

  it('runs one API process unless API_WORKERS asks for 1..64', () => {
    expect(loadConfig({}).api.workers).toBe(1);
    expect(loadConfig({ API_WORKERS: '2' }).api.workers).toBe(2);
    expect(loadConfig({ API_WORKERS: ' 64 ' }).api.workers).toBe(64);
    expect(issuesOf({ API_WORKERS: '0' })).toEqual(["API_WORKERS: '0' is not an integer in 1..64"]);
    expect(issuesOf({ API_WORKERS: '2.5' })).toEqual(["API_WORKERS: '2.5' is not an integer in 1..64"]);
    expect(issuesOf({ API_WORKERS: 'auto' })).toEqual(["API_WORKERS: 'auto' is not an integer in 1..64"]);
    expect(issuesOf({ API_WORKERS: '65' })).toEqual(["API_WORKERS: '65' is not an integer in 1..64"]);
  });

  it('reads the JWT secret without ever echoing it', () => {
    const secret = 'x'.repeat(40);
    expect(loadConfig({ API_JWT_SECRET: secret }).api.jwt.secret?.bytes().toString()).toBe(secret);
    const issues = issuesOf({ API_JWT_SECRET: 'short-secret' });
    expect(issues).toEqual(['API_JWT_SECRET: must be at least 32 characters, got 12']);
    expect(issues.join()).not.toContain('short-secret');
  });

  it('configures OIDC only with issuer, JWKS URL and audience together', () => {
    const oidc = loadConfig({
      OIDC_ISSUER: 'https://idp.example.org',
      OIDC_JWKS_URL: 'https://idp.example.org/certs',
      OIDC_AUDIENCE: 'hes',
      OIDC_ROLE_CLAIM: 'roles',
    }).api.oidc;
    expect(oidc).toEqual({
      issuer: 'https://idp.example.org',
      jwksUrl: 'https://idp.example.org/certs',
      audience: 'hes',
      roleClaim: 'roles',
      societiesClaim: 'hes_societies',
    });
    expect(issuesOf({ OIDC_ISSUER: 'https://idp.example.org' })).toEqual([
      'OIDC_ISSUER: set OIDC_ISSUER, OIDC_JWKS_URL and OIDC_AUDIENCE together, or none',
    ]);
    expect(
      issuesOf({
        OIDC_ISSUER: 'i',
        OIDC_JWKS_URL: 'ftp://x/certs',
        OIDC_AUDIENCE: 'a',
        API_RATE_LIMIT_PER_MINUTE: '0',
      }),
    ).toEqual([
      "OIDC_JWKS_URL: 'ftp://x/certs' must start with https:// or http://",
      "API_RATE_LIMIT_PER_MINUTE: '0' is not an integer in 1..1000000",
    ]);
  });
});
