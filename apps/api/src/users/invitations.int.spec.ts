/**
 * Society invitations against the real API and PostgreSQL: inviting answers the same for an email with an account
 * and one without (and adds nobody), accepting creates the account or needs the existing one's proof, tokens are
 * single-use, expire and can be revoked, each with its own error, and another society's admin sees none of it.
 */
import { createUser, login, startHarness, TEST_PASSWORD } from '../test-harness';

jest.setTimeout(60_000);

type Harness = Awaited<ReturnType<typeof startHarness>>;

const NEW_PASSWORD = 'a new and long password';

describe('society invitations', () => {
  let harness: Harness;
  let root: string;
  let adminA: string;
  let adminB: string;
  let adminBId: string;
  let societyA: string;
  let societyB: string;

  const as = (token: string) => ({
    get: (url: string) => harness.http().get(`/api/v1${url}`).auth(token, { type: 'bearer' }),
    post: (url: string, body: object = {}) =>
      harness.http().post(`/api/v1${url}`).auth(token, { type: 'bearer' }).send(body),
    delete: (url: string) => harness.http().delete(`/api/v1${url}`).auth(token, { type: 'bearer' }),
  });
  const accept = (body: object) => harness.http().post('/api/v1/invitations/accept').send(body);

  async function invite(email: string, role = 'viewer', token = adminA, society = societyA) {
    const response = await as(token).post(`/societies/${society}/invitations`, { email, role }).expect(201);
    return response.body as { id: string; token: string; email: string; status: string; expiresAt: string };
  }

  async function memberRoles(society: string): Promise<[string, string][]> {
    const members = (await as(root).get(`/societies/${society}/members`).expect(200)).body;
    return members.map((m: { email: string; role: string }) => [m.email, m.role]);
  }

  async function invitationRow(id: string) {
    const { rows } = await harness.pool.query(
      `SELECT accepted_at IS NOT NULL AS accepted, revoked_at IS NOT NULL AS revoked, token_hash FROM invitations
       WHERE id = $1`,
      [id],
    );
    return rows[0] as { accepted: boolean; revoked: boolean; token_hash: string };
  }

  beforeAll(async () => {
    harness = await startHarness();
    await createUser(harness.pool, 'root@example.org', [{ societyId: null, role: 'platform_admin' }]);
    root = (await login(harness, 'root@example.org')).accessToken;
    societyA = (await as(root).post('/societies', { name: 'Society A' }).expect(201)).body.id;
    societyB = (await as(root).post('/societies', { name: 'Society B' }).expect(201)).body.id;
    await createUser(harness.pool, 'admin-a@example.org', [{ societyId: societyA, role: 'society_admin' }]);
    adminBId = await createUser(harness.pool, 'admin-b@example.org', [
      { societyId: societyB, role: 'society_admin' },
    ]);
    adminA = (await login(harness, 'admin-a@example.org')).accessToken;
    adminB = (await login(harness, 'admin-b@example.org')).accessToken;
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('answers the same for an email with an account and one without, and adds nobody', async () => {
    const existing = await invite('Admin-B@Example.org', 'society_admin');
    const unknown = await invite('nobody@example.org', 'society_admin');
    const shape = (body: Record<string, unknown>) => ({
      ...body,
      id: '<id>',
      email: '<email>',
      token: '<token>',
      createdAt: '<time>',
      expiresAt: '<time>',
    });
    expect(shape(existing)).toEqual(shape(unknown));
    expect(existing).toMatchObject({
      email: 'admin-b@example.org',
      societyId: societyA,
      role: 'society_admin',
      status: 'pending',
      acceptedAt: null,
      revokedAt: null,
    });
    expect(existing.token).toMatch(/^hesinv_[A-Za-z0-9_-]{43}$/);
    // Nothing of B's admin: neither their id nor their name.
    expect(JSON.stringify(existing)).not.toContain(adminBId);
    expect(JSON.stringify(existing)).not.toMatch(/admin-b"|displayName|userId/);
    // The default lifetime is 7 days.
    const lifetimeMs = Date.parse(existing.expiresAt) - Date.now();
    expect(lifetimeMs).toBeGreaterThan(7 * 86_400_000 - 60_000);
    expect(lifetimeMs).toBeLessThanOrEqual(7 * 86_400_000);
    expect(await memberRoles(societyA)).toEqual([['admin-a@example.org', 'society_admin']]);
    // Only the hash is stored.
    const stored = await harness.pool.query(`SELECT * FROM invitations`);
    expect(JSON.stringify(stored.rows)).not.toContain(existing.token);
    for (const id of [existing.id, unknown.id])
      await as(adminA).delete(`/societies/${societyA}/invitations/${id}`);
  });

  it('creates the account of a new email on acceptance, and the membership with the invited role', async () => {
    const invitation = await invite('New.Person@example.org', 'field_operator');
    const accepted = await accept({
      token: invitation.token,
      displayName: 'New Person',
      password: NEW_PASSWORD,
    }).expect(200);
    expect(accepted.body).toEqual({
      societyId: societyA,
      role: 'field_operator',
      userId: expect.any(String),
      email: 'new.person@example.org',
    });
    const session = await login(harness, 'new.person@example.org', NEW_PASSWORD);
    const me = (await as(session.accessToken).get('/auth/me').expect(200)).body;
    expect(me).toMatchObject({ id: accepted.body.userId, societyRoles: { [societyA]: 'field_operator' } });
    expect(await memberRoles(societyA)).toContainEqual(['new.person@example.org', 'field_operator']);
    const audit = await harness.pool.query(
      `SELECT actor, action, target, society_id FROM audit_log
       WHERE target IN ($1, $2) ORDER BY id`,
      [`invitation:${invitation.id}`, `user:${accepted.body.userId}`],
    );
    const adminAId = (await as(adminA).get('/auth/me').expect(200)).body.id;
    const newUser = `user:${accepted.body.userId}`;
    expect(audit.rows).toEqual([
      {
        actor: `user:${adminAId}`,
        action: 'invitation.create',
        target: `invitation:${invitation.id}`,
        society_id: societyA,
      },
      { actor: newUser, action: 'user.create', target: newUser, society_id: societyA },
      {
        actor: newUser,
        action: 'invitation.accept',
        target: `invitation:${invitation.id}`,
        society_id: societyA,
      },
      { actor: newUser, action: 'membership.set', target: newUser, society_id: societyA },
    ]);
  });

  it("lets an existing user join with their password, and refuses a wrong one exactly like a new email's missing details", async () => {
    const invitation = await invite('admin-b@example.org', 'viewer');
    const wrong = await accept({ token: invitation.token, password: 'not the right password' }).expect(401);
    const newEmail = await invite('someone-new@example.org', 'viewer');
    const incomplete = await accept({ token: newEmail.token, password: 'not the right password' }).expect(
      401,
    );
    expect(wrong.body).toEqual(incomplete.body);
    expect(wrong.body.error.code).toBe('invitation_credentials_refused');
    const noProof = await accept({ token: invitation.token }).expect(401);
    expect(noProof.body).toEqual(wrong.body);
    // A display name does not turn an existing account's wrong password into a new account.
    await accept({
      token: invitation.token,
      displayName: 'Impostor',
      password: 'not the right password',
    }).expect(401);
    expect(await invitationRow(invitation.id)).toMatchObject({ accepted: false, revoked: false });
    expect(await memberRoles(societyA)).not.toContainEqual(['admin-b@example.org', 'viewer']);
    const failures = await harness.pool.query(
      `SELECT details->>'reason' AS reason FROM audit_log WHERE action = 'invitation.accept_failed' AND target = $1
       ORDER BY id`,
      [`invitation:${invitation.id}`],
    );
    expect(failures.rows.map((row) => row.reason)).toEqual(['not_proven', 'not_proven', 'not_proven']);

    const joined = await accept({ token: invitation.token, password: TEST_PASSWORD }).expect(200);
    expect(joined.body).toEqual({
      societyId: societyA,
      role: 'viewer',
      userId: adminBId,
      email: 'admin-b@example.org',
    });
    const user = await harness.pool.query(`SELECT display_name FROM users WHERE id = $1`, [adminBId]);
    expect(user.rows[0].display_name).toBe('admin-b');
    const { rows } = await harness.pool.query(
      `SELECT society_id, role FROM memberships WHERE user_id = $1 ORDER BY role`,
      [adminBId],
    );
    expect(rows).toEqual([
      { society_id: societyB, role: 'society_admin' },
      { society_id: societyA, role: 'viewer' },
    ]);
    await as(root).delete(`/societies/${societyA}/members/${adminBId}`).expect(204);
    await as(adminA).delete(`/societies/${societyA}/invitations/${newEmail.id}`).expect(204);
  });

  it("lets an existing user join with an access token of their own account, not someone else's", async () => {
    const invitation = await invite('admin-b@example.org', 'field_operator');
    const withToken = (token: string) =>
      harness
        .http()
        .post('/api/v1/invitations/accept')
        .auth(token, { type: 'bearer' })
        .send({ token: invitation.token });
    const other = await withToken(adminA).expect(401);
    expect(other.body.error.code).toBe('invitation_credentials_refused');
    const invalid = await withToken('not.a.jwt').expect(401);
    expect(invalid.body.error.message).toMatch(/^access token refused/);
    await withToken(adminB).expect(200);
    expect(await memberRoles(societyA)).toContainEqual(['admin-b@example.org', 'field_operator']);
    await as(root).delete(`/societies/${societyA}/members/${adminBId}`).expect(204);
  });

  it('refuses a disabled account even with its password, with the same answer as a wrong password', async () => {
    const userId = await createUser(harness.pool, 'disabled@example.org', []);
    await harness.pool.query(`UPDATE users SET disabled = true WHERE id = $1`, [userId]);
    const invitation = await invite('disabled@example.org');
    const refused = await accept({ token: invitation.token, password: TEST_PASSWORD }).expect(401);
    expect(refused.body.error.code).toBe('invitation_credentials_refused');
    const wrong = await accept({ token: invitation.token, password: 'not the right password' }).expect(401);
    expect(refused.body).toEqual(wrong.body);
    const { rows } = await harness.pool.query(
      `SELECT details->>'reason' AS reason FROM audit_log WHERE action = 'invitation.accept_failed' AND target = $1
       ORDER BY id`,
      [`invitation:${invitation.id}`],
    );
    expect(rows.map((row) => row.reason)).toEqual(['disabled', 'not_proven']);
    expect(await harness.pool.query(`SELECT 1 FROM memberships WHERE user_id = $1`, [userId])).toMatchObject({
      rowCount: 0,
    });
  });

  it('refuses used, revoked, replaced, expired and unknown tokens, each with its own error', async () => {
    const used = await invite('used@example.org');
    await accept({ token: used.token, displayName: 'Used', password: NEW_PASSWORD }).expect(200);
    const again = await accept({ token: used.token, displayName: 'Used', password: NEW_PASSWORD }).expect(
      410,
    );
    expect(again.body.error).toMatchObject({ code: 'invitation_used' });

    const revoked = await invite('revoked@example.org');
    await as(adminA).delete(`/societies/${societyA}/invitations/${revoked.id}`).expect(204);
    // Revoking again changes nothing.
    await as(adminA).delete(`/societies/${societyA}/invitations/${revoked.id}`).expect(204);
    const refusedRevoked = await accept({ token: revoked.token, displayName: 'R', password: NEW_PASSWORD });
    expect(refusedRevoked.status).toBe(410);
    expect(refusedRevoked.body.error).toMatchObject({ code: 'invitation_revoked' });

    const first = await invite('twice@example.org', 'viewer');
    const second = await invite('twice@example.org', 'field_operator');
    const replaced = await accept({ token: first.token, displayName: 'T', password: NEW_PASSWORD }).expect(
      410,
    );
    expect(replaced.body.error.code).toBe('invitation_revoked');
    await accept({ token: second.token, displayName: 'T', password: NEW_PASSWORD }).expect(200);

    const expired = await invite('expired@example.org');
    await harness.pool.query(
      `UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = $1`,
      [expired.id],
    );
    const late = await accept({ token: expired.token, displayName: 'E', password: NEW_PASSWORD }).expect(410);
    expect(late.body.error).toMatchObject({ code: 'invitation_expired' });
    expect(late.body.error.message).toMatch(/^the invitation expired at \d{4}-/);

    const unknown = await accept({ token: 'hesinv_unknown', password: NEW_PASSWORD }).expect(404);
    expect(unknown.body.error.code).toBe('invitation_not_found');
    const invalid = await accept({ token: '' }).expect(400);
    expect(invalid.body.error.details).toEqual([{ field: 'token', message: expect.any(String) }]);

    // None of the refused tokens made an account.
    const users = await harness.pool.query(`SELECT email FROM users WHERE email = ANY($1)`, [
      ['revoked@example.org', 'expired@example.org'],
    ]);
    expect(users.rows).toEqual([]);
    // An accepted invitation is not revoked: the member is removed instead.
    const conflict = await as(adminA).delete(`/societies/${societyA}/invitations/${used.id}`).expect(409);
    expect(conflict.body.error.message).toContain('remove the member');

    const list = (await as(adminA).get(`/societies/${societyA}/invitations`).expect(200)).body;
    const statuses = Object.fromEntries(
      list
        .filter((i: { email: string }) =>
          ['used@example.org', 'revoked@example.org', 'expired@example.org'].includes(i.email),
        )
        .map((i: { email: string; status: string }) => [i.email, i.status]),
    );
    expect(statuses).toEqual({
      'used@example.org': 'accepted',
      'revoked@example.org': 'revoked',
      'expired@example.org': 'expired',
    });
    expect(JSON.stringify(list)).not.toMatch(/hesinv_|token/);
    const audit = await harness.pool.query(
      `SELECT action, details FROM audit_log WHERE target = $1 ORDER BY id`,
      [`invitation:${revoked.id}`],
    );
    expect(audit.rows.map((row) => row.action)).toEqual(['invitation.create', 'invitation.revoke']);
  });

  it('lets only one of two simultaneous acceptances of one token through', async () => {
    const invitation = await invite('race@example.org');
    const body = { token: invitation.token, displayName: 'Race', password: NEW_PASSWORD };
    const answers = await Promise.all([accept(body), accept(body)]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 410]);
    expect(answers.find((answer) => answer.status === 410)!.body.error.code).toBe('invitation_used');
    const users = await harness.pool.query(`SELECT id FROM users WHERE email = 'race@example.org'`);
    expect(users.rowCount).toBe(1);
  });

  it("keeps each society's invitations to its own admins (404 for others, 403 for non-admins)", async () => {
    const invitation = await invite('tenancy@example.org');
    for (const response of [
      await as(adminB).get(`/societies/${societyA}/invitations`),
      await as(adminB).post(`/societies/${societyA}/invitations`, { email: 'x@example.org', role: 'viewer' }),
      await as(adminB).delete(`/societies/${societyA}/invitations/${invitation.id}`),
      await as(adminB).delete(`/societies/${societyB}/invitations/${invitation.id}`),
    ]) {
      expect(response.status).toBe(404);
      expect(response.body.error.code).toBe('not_found');
    }
    expect(await invitationRow(invitation.id)).toMatchObject({ revoked: false });
    const listB = (await as(adminB).get(`/societies/${societyB}/invitations`).expect(200)).body;
    expect(listB).toEqual([]);
    const viewerId = await createUser(harness.pool, 'viewer-a@example.org', [
      { societyId: societyA, role: 'viewer' },
    ]);
    const viewer = (await login(harness, 'viewer-a@example.org')).accessToken;
    await as(viewer).get(`/societies/${societyA}/invitations`).expect(403);
    await as(viewer)
      .post(`/societies/${societyA}/invitations`, { email: 'x@example.org', role: 'viewer' })
      .expect(403);
    await as(root).delete(`/societies/${societyA}/members/${viewerId}`).expect(204);
  });

  it('no longer adds an existing user at once for a society admin; platform admins still can, by user id', async () => {
    const before = await memberRoles(societyA);
    const refused = await as(adminA)
      .post(`/societies/${societyA}/members`, { email: 'admin-b@example.org', role: 'viewer' })
      .expect(403);
    expect(JSON.stringify(refused.body)).not.toMatch(/admin-b|no user has this email/);
    expect(await memberRoles(societyA)).toEqual(before);

    const added = await as(root)
      .post(`/societies/${societyA}/members`, { userId: adminBId, role: 'viewer' })
      .expect(201);
    expect(added.body).toMatchObject({ userId: adminBId, email: 'admin-b@example.org', role: 'viewer' });
    await as(root)
      .post(`/societies/${societyA}/members`, {
        userId: '00000000-0000-4000-8000-000000000009',
        role: 'viewer',
      })
      .expect(404);
    const byEmail = await as(root)
      .post(`/societies/${societyA}/members`, { email: 'admin-b@example.org', role: 'viewer' })
      .expect(400);
    expect(byEmail.body.error.details).toContainEqual({ field: 'userId', message: expect.any(String) });
    await as(root).delete(`/societies/${societyA}/members/${adminBId}`).expect(204);
  });

  it('limits acceptance attempts per client address like logins', async () => {
    const limited = await startHarness({
      database: harness.db,
      rateLimits: { requestsPerMinute: 1000, loginAttemptsPerMinute: 2 },
    });
    try {
      const statuses: number[] = [];
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const response = await limited
          .http()
          .post('/api/v1/invitations/accept')
          .send({ token: 'hesinv_guess', password: NEW_PASSWORD });
        statuses.push(response.status);
      }
      expect(statuses).toEqual([404, 404, 429]);
    } finally {
      await limited.close();
    }
  });
});
