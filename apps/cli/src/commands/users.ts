import type { Command } from 'commander';
import {
  AuditLog,
  hashPassword,
  isRole,
  isUuid,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  ROLES,
  UserRepository,
  type Role,
} from '@hes/auth';
import { loadConfig } from '@hes/config';
import { createPool } from '@hes/storage';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { CliIo, UsageError, writeLine } from '../cli-io';

interface AddOptions {
  email: string;
  role: string;
  society?: string;
  name?: string;
  passwordStdin?: boolean;
  json?: boolean;
  databaseUrl?: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;

async function readAll(stream: Readable): Promise<string> {
  let text = '';
  for await (const chunk of stream)
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
  return text;
}

/**
 * `hes users add`: bootstraps API users, above all the first platform admin, straight in the database (the API
 * needs an admin before anyone can log in). An existing user with the email gets the membership added; a new one
 * gets the password from stdin (--password-stdin) or a generated one printed exactly once.
 */
export function registerUsersCommand(
  program: Command,
  io: CliIo,
  env: NodeJS.ProcessEnv = process.env,
): void {
  const users = program.command('users').description('manage API users (bootstrap the first platform admin)');

  users
    .command('add')
    .description('create a user (or add a role to an existing one)')
    .requiredOption('--email <email>', 'login email')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .option('--society <id>', 'society id (UUID); required for every role but platform_admin')
    .option('--name <name>', 'display name (default: the part of the email before @)')
    .option('--password-stdin', 'read the password from standard input instead of generating one')
    .option('--json', 'print {"id","email","role","societyId","created","password"?} as JSON')
    .option('--database-url <url>', 'PostgreSQL URL (default: DATABASE_URL)')
    .action(async (options: AddOptions) => {
      const email = options.email.trim().toLowerCase();
      if (!EMAIL.test(email)) throw new UsageError(`--email '${options.email}' is not an email address`);
      if (!isRole(options.role))
        throw new UsageError(`--role '${options.role}' is not one of ${ROLES.join(', ')}`);
      const role: Role = options.role;
      const societyId = options.society ?? null;
      if (role === 'platform_admin' && societyId !== null) {
        throw new UsageError(
          '--society does not apply to platform_admin (platform admins act in every society)',
        );
      }
      if (role !== 'platform_admin' && societyId === null)
        throw new UsageError(`--society is required for ${role}`);
      if (societyId !== null && !isUuid(societyId))
        throw new UsageError(`--society '${societyId}' is not a UUID`);

      let password: string | undefined;
      if (options.passwordStdin) {
        password = (await readAll(io.stdin)).replace(/\r?\n$/, '');
        if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
          throw new UsageError(
            `the password must have ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters, got ${password.length}`,
          );
        }
      }

      const url = options.databaseUrl ?? loadConfig(env).database.url;
      const pool = createPool(url, { max: 1, applicationName: 'hes-cli' });
      let result: { id: string; created: boolean; generatedPassword?: string };
      try {
        const repository = new UserRepository(pool);
        const audit = new AuditLog(pool);
        if (societyId !== null) {
          const society = await pool.query('SELECT 1 FROM societies WHERE id = $1', [societyId]);
          if (society.rows.length === 0) throw new UsageError(`no society '${societyId}'`);
        }
        let user = await repository.findByEmail(email);
        let generatedPassword: string | undefined;
        if (!user) {
          if (password === undefined) {
            generatedPassword = randomBytes(18).toString('base64url');
            password = generatedPassword;
          }
          user = await repository.create({
            email,
            displayName: options.name ?? email.split('@')[0],
            passwordHash: await hashPassword(password),
          });
          await audit.write({
            actor: 'cli',
            action: 'user.create',
            target: `user:${user.id}`,
            details: { email },
          });
          result = { id: user.id, created: true, generatedPassword };
        } else {
          result = { id: user.id, created: false };
        }
        const previous = await repository.setMembership(user.id, societyId, role);
        if (previous !== role) {
          await audit.write({
            actor: 'cli',
            action: 'membership.set',
            target: `user:${user.id}`,
            societyId,
            details: { role, previousRole: previous ?? null },
          });
        }
      } catch (error) {
        if ((error as { code?: string }).code === '42P01') {
          throw new UsageError('the database has no users table: apply the migrations first (hes migrate)');
        }
        throw error;
      } finally {
        await pool.end();
      }

      if (options.json) {
        await writeLine(
          io.stdout,
          JSON.stringify({
            id: result.id,
            email,
            role,
            societyId,
            created: result.created,
            ...(result.generatedPassword ? { password: result.generatedPassword } : {}),
          }),
        );
        return;
      }
      await writeLine(
        io.stdout,
        `user ${email} (${result.id}) ${result.created ? 'created' : 'exists'}; role ${role}${societyId ? ` in society ${societyId}` : ''}`,
      );
      if (result.generatedPassword) {
        await writeLine(io.stdout, `password: ${result.generatedPassword}`);
        await writeLine(io.stdout, 'The password is shown only this once.');
      }
    });
}
