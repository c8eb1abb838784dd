import type { Command } from 'commander';
import { loadConfig } from '@hes/config';
import { generateApiKey, hashApiKey } from '@hes/keys';
import { createPool, GatewayRepository } from '@hes/storage';
import type { Pool } from 'pg';
import { CliIo, UsageError, writeLine } from '../cli-io';

/** Gateway ids appear in MQTT topics (hes/gw/<id>/telegrams) and in every envelope: one topic level, ASCII. */
const GATEWAY_ID = /^[A-Za-z0-9._-]{1,128}$/;

interface DatabaseOption {
  databaseUrl?: string;
}

/**
 * `hes gateways add|list|revoke`: the gateways allowed to post telegrams to the collector. `add` prints
 * the new API key exactly once; only its SHA-256 is stored, so a lost key is replaced by revoking the
 * gateway and adding it again.
 */
export function registerGatewaysCommand(
  program: Command,
  io: CliIo,
  env: NodeJS.ProcessEnv = process.env,
): void {
  const gateways = program
    .command('gateways')
    .description('manage the gateways (and handheld apps) that may send telegrams to the collector');

  gateways
    .command('add')
    .description('register a gateway and print its new API key (shown only this once)')
    .argument('<name>', 'display name; also the gateway id unless --id is given')
    .option('--id <id>', 'gateway id (letters, digits . _ -), as used in MQTT topics')
    .option('--json', 'print {"id","name","apiKey"} as JSON')
    .option('--database-url <url>', 'PostgreSQL URL (default: DATABASE_URL)')
    .action(async (name: string, options: DatabaseOption & { id?: string; json?: boolean }) => {
      const id = options.id ?? name;
      if (!GATEWAY_ID.test(id)) {
        throw new UsageError(
          options.id === undefined
            ? `'${name}' cannot be a gateway id (1-128 of A-Z a-z 0-9 . _ -); give one with --id`
            : `--id '${id}' is not a gateway id (1-128 of A-Z a-z 0-9 . _ -)`,
        );
      }
      const apiKey = generateApiKey();
      await withRepository(options, env, async (repository) => {
        try {
          await repository.create({ id, name, apiKeyHash: hashApiKey(apiKey) });
        } catch (error) {
          if ((error as { code?: string }).code === '23505') {
            throw new UsageError(`gateway '${id}' already exists (revoke it and add it again for a new key)`);
          }
          throw error;
        }
      });
      if (options.json) {
        await writeLine(io.stdout, JSON.stringify({ id, name, apiKey }));
        return;
      }
      await writeLine(io.stdout, `gateway ${id} added`);
      await writeLine(io.stdout, `API key: ${apiKey}`);
      await writeLine(io.stdout, 'The key is shown only this once: configure the gateway with it now.');
    });

  gateways
    .command('list')
    .description('list gateways (one JSON object per line; keys are never shown)')
    .option('--database-url <url>', 'PostgreSQL URL (default: DATABASE_URL)')
    .action(async (options: DatabaseOption) => {
      const rows = await withRepository(options, env, (repository) => repository.list());
      for (const gateway of rows) {
        await writeLine(
          io.stdout,
          JSON.stringify({
            id: gateway.id,
            name: gateway.name,
            createdAt: gateway.createdAt.toISOString(),
            revokedAt: gateway.revokedAt?.toISOString() ?? null,
          }),
        );
      }
    });

  gateways
    .command('revoke')
    .description('revoke a gateway: its API key stops working (within the collector key cache time)')
    .argument('<id>', 'gateway id')
    .option('--database-url <url>', 'PostgreSQL URL (default: DATABASE_URL)')
    .action(async (id: string, options: DatabaseOption) => {
      const revoked = await withRepository(options, env, (repository) => repository.revoke(id));
      if (!revoked) throw new UsageError(`no active gateway '${id}'`);
      await writeLine(io.stdout, `gateway ${id} revoked`);
    });
}

async function withRepository<T>(
  options: DatabaseOption,
  env: NodeJS.ProcessEnv,
  use: (repository: GatewayRepository) => Promise<T>,
): Promise<T> {
  const url = options.databaseUrl ?? loadConfig(env).database.url;
  const pool: Pool = createPool(url, { max: 1, applicationName: 'hes-cli' });
  try {
    return await use(new GatewayRepository(pool));
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') {
      throw new UsageError('the database has no gateways table: apply the migrations first');
    }
    throw error;
  } finally {
    await pool.end();
  }
}
