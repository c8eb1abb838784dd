import { chmodSync, writeFileSync } from 'node:fs';
import { generateApiKey, hashApiKey, type MeterKeyCipher } from '@hes/keys';
import { GatewayRepository, MeterRepository } from '@hes/storage';
import type { Pool } from 'pg';
import type { Fleet, SimulatedMeter } from './fleet';
import type { SimGateway } from './transport';

/** Rows per INSERT: big enough for speed, small enough to keep statements and parameters modest. */
const ROWS_PER_STATEMENT = 5000;

export interface RegistrationResult {
  groupsCreated: number;
  metersWritten: number;
  keysWritten: number;
  gatewaysCreated: number;
  gateways: SimGateway[];
}

/** Gateway ids of a run: `<prefix>-gw-01` ... */
export function gatewayIds(prefix: string, count: number): string[] {
  const width = Math.max(2, String(count).length);
  return Array.from({ length: count }, (_, i) => `${prefix}-gw-${String(i + 1).padStart(width, '0')}`);
}

/**
 * Writes the fleet into the registry, idempotently: meter groups by name, meters (upserted, untouched when
 * unchanged), their keys encrypted with the master key (rewritten only when the key changed, so a re-run
 * does not make every decryptor reload every key), and the gateways. Meters and keys go in multi-row
 * statements: a per-row repository call per meter would take minutes for a million meters.
 *
 * Gateways: with `apiKeys` (one per gateway), missing gateways are created with those keys and existing
 * ones must already have them; without, missing gateways get new keys (held only by this run) and an
 * existing one is an error, since its key is not known here.
 */
export async function registerFleet(
  pool: Pool,
  fleet: Fleet,
  cipher: MeterKeyCipher,
  gateways: { ids: string[]; apiKeys?: string[] },
): Promise<RegistrationResult> {
  const groupIds = await ensureGroups(pool, fleet);
  let metersWritten = 0;
  let keysWritten = 0;
  for (let start = 0; start < fleet.meters.length; start += ROWS_PER_STATEMENT) {
    const chunk = fleet.meters.slice(start, start + ROWS_PER_STATEMENT);
    metersWritten += await upsertMeters(pool, chunk, groupIds.ids);
    keysWritten += await upsertKeys(pool, chunk, cipher);
  }
  const registered = await ensureGateways(pool, gateways.ids, gateways.apiKeys);
  return {
    groupsCreated: groupIds.created,
    metersWritten,
    keysWritten,
    gatewaysCreated: registered.created,
    gateways: registered.gateways,
  };
}

async function ensureGroups(pool: Pool, fleet: Fleet): Promise<{ ids: number[]; created: number }> {
  const repository = new MeterRepository(pool);
  const existing = new Map((await repository.listGroups()).map((group) => [group.name, group.id]));
  const ids: number[] = [];
  let created = 0;
  for (let group = 0; group < fleet.options.groups; group++) {
    const name = fleet.groupName(group);
    let id = existing.get(name);
    if (id === undefined) {
      id = (await repository.createGroup(name, 'simulated meters (hes simulate)')).id;
      created++;
    }
    ids.push(id);
  }
  return { ids, created };
}

async function upsertMeters(pool: Pool, meters: SimulatedMeter[], groupIds: number[]): Promise<number> {
  const result = await pool.query(
    `INSERT INTO meters AS m (meter_id, manufacturer, device_type, version, driver, group_id, notes)
     SELECT * FROM unnest($1::text[], $2::text[], $3::smallint[], $4::smallint[], $5::text[], $6::int[], $7::text[])
     ON CONFLICT (meter_id) DO UPDATE SET manufacturer = EXCLUDED.manufacturer, device_type = EXCLUDED.device_type,
       version = EXCLUDED.version, driver = EXCLUDED.driver, group_id = EXCLUDED.group_id, updated_at = now()
     WHERE (m.manufacturer, m.device_type, m.version, m.driver, m.group_id)
       IS DISTINCT FROM (EXCLUDED.manufacturer, EXCLUDED.device_type, EXCLUDED.version, EXCLUDED.driver,
                         EXCLUDED.group_id)`,
    [
      meters.map((meter) => meter.id),
      meters.map((meter) => meter.model.manufacturer),
      meters.map((meter) => meter.model.deviceType),
      meters.map((meter) => meter.model.version),
      meters.map((meter) => (meter.model.kind === 'kamstrup' ? 'kamwater' : null)),
      meters.map((meter) => groupIds[meter.group]),
      meters.map(() => 'simulated by hes simulate'),
    ],
  );
  return result.rowCount ?? 0;
}

async function upsertKeys(pool: Pool, meters: SimulatedMeter[], cipher: MeterKeyCipher): Promise<number> {
  const records = meters.map((meter) => cipher.encrypt(meter.id, meter.key));
  const result = await pool.query(
    `INSERT INTO meter_keys AS k (meter_id, ciphertext, iv, tag, fingerprint)
     SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::bytea[], $5::text[])
     ON CONFLICT (meter_id) DO UPDATE SET ciphertext = EXCLUDED.ciphertext, iv = EXCLUDED.iv, tag = EXCLUDED.tag,
       fingerprint = EXCLUDED.fingerprint, version = k.version + 1, set_at = clock_timestamp()
     WHERE k.fingerprint IS DISTINCT FROM EXCLUDED.fingerprint`,
    [
      meters.map((meter) => meter.id),
      records.map((record) => record.ciphertext),
      records.map((record) => record.iv),
      records.map((record) => record.tag),
      records.map((record) => record.fingerprint),
    ],
  );
  return result.rowCount ?? 0;
}

async function ensureGateways(
  pool: Pool,
  ids: string[],
  apiKeys: string[] | undefined,
): Promise<{ gateways: SimGateway[]; created: number }> {
  const repository = new GatewayRepository(pool);
  const gateways: SimGateway[] = [];
  let created = 0;
  for (const [index, id] of ids.entries()) {
    const given = apiKeys?.[index];
    const existing = await repository.get(id);
    if (existing) {
      if (given === undefined) {
        throw new Error(
          `gateway ${id} already exists and its API key is not known to this run: pass its key with --api-key, ` +
            'or use another --name-prefix for new gateways',
        );
      }
      if (existing.revokedAt !== null || existing.apiKeyHash !== hashApiKey(given)) {
        throw new Error(`gateway ${id} exists with another (or a revoked) API key than the one given`);
      }
      gateways.push({ id, apiKey: given, idMatchesKey: true });
      continue;
    }
    const apiKey = given ?? generateApiKey();
    await repository.create({ id, name: `${id} (hes simulate)`, apiKeyHash: hashApiKey(apiKey) });
    created++;
    gateways.push({ id, apiKey, idMatchesKey: true });
  }
  return { gateways, created };
}

/**
 * Writes `meter_id,key_hex` for every meter (the format `hes decode --keys` reads), readable by the owner
 * only: the file holds the meters' secret keys.
 */
export function exportKeys(path: string, fleet: Fleet): void {
  const lines = [
    'meter_id,key_hex',
    ...fleet.meters.map((meter) => `${meter.id},${meter.key.toString('hex')}`),
  ];
  writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o600 });
  // The mode above only applies to a new file; an existing one may have been readable by others.
  chmodSync(path, 0o600);
}
