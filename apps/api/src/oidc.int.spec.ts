/** External identity provider tokens, verified against a JWKS served by this test over HTTP (no mocked jose). */
import { AuthenticationError, OidcVerifier } from '@hes/auth';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMeter, createUser, login, startHarness, type ApiHarness } from './test-harness';

jest.setTimeout(60_000);

const ISSUER = 'https://idp.example.org/realms/hes';
const AUDIENCE = 'hes-api';

describe('OIDC bearer tokens', () => {
  let harness: ApiHarness & { close(): Promise<void> };
  let jwksServer: Server;
  let jwksRequests = 0;
  let signingKey: KeyLike;
  let strangerKey: KeyLike;
  let societyA: string;
  let societyB: string;
  let verifier: OidcVerifier;

  async function token(
    claims: Record<string, unknown>,
    options: { key?: KeyLike; issuer?: string; audience?: string; expiresIn?: string } = {},
  ) {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'idp-1' })
      .setIssuer(options.issuer ?? ISSUER)
      .setAudience(options.audience ?? AUDIENCE)
      .setSubject('idp-user-42')
      .setIssuedAt()
      .setExpirationTime(options.expiresIn ?? '5m')
      .sign(options.key ?? signingKey);
  }

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    signingKey = pair.privateKey;
    strangerKey = (await generateKeyPair('RS256')).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'idp-1', alg: 'RS256', use: 'sig' };
    jwksServer = createServer((_req, res) => {
      jwksRequests += 1;
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const { port } = jwksServer.address() as AddressInfo;
    verifier = new OidcVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksUrl: `http://127.0.0.1:${port}/certs`,
      roleClaim: 'hes_role',
      societiesClaim: 'hes_societies',
    });
    harness = await startHarness({ oidc: verifier });
    await createUser(harness.pool, 'root@example.org', [{ societyId: null, role: 'platform_admin' }]);
    const root = (await login(harness, 'root@example.org')).accessToken;
    societyA = (
      await harness
        .http()
        .post('/api/v1/societies')
        .auth(root, { type: 'bearer' })
        .send({ name: 'A' })
        .expect(201)
    ).body.id;
    societyB = (
      await harness
        .http()
        .post('/api/v1/societies')
        .auth(root, { type: 'bearer' })
        .send({ name: 'B' })
        .expect(201)
    ).body.id;
    await createMeter(harness.pool, 'BBBB0001', societyB);
  });
  afterAll(async () => {
    await harness?.close();
    await new Promise((resolve) => jwksServer?.close(resolve));
  });

  it('accepts a provider token and maps its claims to role and societies', async () => {
    const bearer = await token({ hes_role: 'society_admin', hes_societies: [societyA] });
    const me = (await harness.http().get('/api/v1/auth/me').auth(bearer, { type: 'bearer' }).expect(200))
      .body;
    expect(me).toEqual({
      kind: 'user',
      id: 'idp-user-42',
      source: 'oidc',
      role: 'society_admin',
      societyIds: [societyA],
      societyRoles: { [societyA]: 'society_admin' },
      scopes: ['read', 'ingest'],
    });
    expect(jwksRequests).toBeGreaterThan(0);
    const listed = (
      await harness.http().get('/api/v1/societies').auth(bearer, { type: 'bearer' }).expect(200)
    ).body;
    expect(listed.map((s: { id: string }) => s.id)).toEqual([societyA]);
    await harness.http().get(`/api/v1/societies/${societyB}`).auth(bearer, { type: 'bearer' }).expect(404);
    await harness
      .http()
      .get('/api/v1/meters/BBBB0001/placement')
      .auth(bearer, { type: 'bearer' })
      .expect(404);
    await harness
      .http()
      .post(`/api/v1/societies/${societyA}/towers`)
      .auth(bearer, { type: 'bearer' })
      .send({ name: 'T' })
      .expect(201);
  });

  it('refuses a wrong issuer, a wrong audience, a foreign signature, an expired token and unmappable claims', async () => {
    const claims = { hes_role: 'viewer', hes_societies: [societyA] };
    const refused = [
      await token(claims, { issuer: 'https://evil.example.org' }),
      await token(claims, { audience: 'another-api' }),
      await token(claims, { key: strangerKey }),
      await token(claims, { expiresIn: '-1m' }),
      await token({ hes_role: 'emperor', hes_societies: [societyA] }),
      await token({ hes_role: 'viewer' }),
      await token({ hes_role: 'viewer', hes_societies: ['not-a-uuid'] }),
    ];
    // The verifier checks the issuer itself too, not only the authenticator's dispatch by issuer.
    await expect(verifier.verify(refused[0])).rejects.toThrow(AuthenticationError);
    await expect(verifier.verify(await token(claims))).resolves.toMatchObject({ role: 'viewer' });
    for (const bearer of refused) {
      const response = await harness.http().get('/api/v1/auth/me').auth(bearer, { type: 'bearer' });
      expect(response.status).toBe(401);
      expect(response.body.error.code).toBe('unauthorized');
    }
  });
});
