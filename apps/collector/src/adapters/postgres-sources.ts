import { ApiKeyRepository } from '@hes/auth';
import { GatewayRepository, HandheldUploadRepository, MeterRepository, type MeterGroup } from '@hes/storage';
import type { Pool } from 'pg';
import type { DeviceCredential, GatewayCredentialSource } from '../http/api-key-verifier';
import type { HandheldUploadResult, HandheldUploadStore } from '../http/handheld-uploads.controller';
import type { MeterGroupSource } from '../ingest/meter-groups';
import type { MeterSocietySource } from '../ingest/pipeline';

/**
 * API keys of gateways (the `gateways` table) and of societies (the API's `api_keys`, hashed the same way), active
 * ones only. A society key's last use is recorded as the API records it.
 */
export class PostgresGatewayCredentials implements GatewayCredentialSource {
  private readonly gateways: GatewayRepository;
  private readonly apiKeys: ApiKeyRepository;

  constructor(pool: Pool) {
    this.gateways = new GatewayRepository(pool);
    this.apiKeys = new ApiKeyRepository(pool);
  }

  async credentialForKeyHash(apiKeyHash: string): Promise<DeviceCredential | undefined> {
    const gateway = await this.gateways.findActiveByKeyHash(apiKeyHash);
    if (gateway) return { kind: 'gateway', id: gateway.id };
    const key = await this.apiKeys.findActiveByHash(apiKeyHash);
    if (!key) return undefined;
    await this.apiKeys.markUsed(key.id);
    return { kind: 'society_api_key', id: key.id, societyId: key.societyId, scope: key.scope };
  }
}

/**
 * Meter id → meter group name from the registry. Envelopes carry the group's name (what the cache's
 * per-group channels and the partitioner use); the registry stores a group id, so names are looked up
 * in the small `meter_groups` table, reloaded only when a group id not seen before turns up (so a
 * renamed group keeps its old name, and partition, until the collector restarts).
 *
 * The codec renders meter ids in lower-case hex and the registry stores them upper-case; answers are
 * keyed by the id exactly as the caller asked.
 */
export class PostgresMeterGroups implements MeterGroupSource {
  private readonly meters: MeterRepository;
  private groupNames = new Map<number, string>();

  constructor(pool: Pool) {
    this.meters = new MeterRepository(pool);
  }

  async groupsOf(meterIds: readonly string[]): Promise<ReadonlyMap<string, string>> {
    const groupIds = await this.meters.groupsOf(meterIds);
    if ([...groupIds.values()].some((id) => !this.groupNames.has(id))) {
      this.groupNames = new Map((await this.meters.listGroups()).map((g: MeterGroup) => [g.id, g.name]));
    }
    const result = new Map<string, string>();
    for (const meterId of meterIds) {
      const groupId = groupIds.get(meterId.toUpperCase());
      if (groupId === undefined) continue;
      const name = this.groupNames.get(groupId);
      // Always found: meters reference meter_groups, and the names were read after the meters.
      if (name !== undefined) result.set(meterId, name);
    }
    return result;
  }
}

/** Meters registered outside a society, for society API keys; the registry's ids are upper-case. */
export class PostgresMeterSocieties implements MeterSocietySource {
  constructor(private readonly pool: Pool) {}

  async registeredOutside(societyId: string, meterIds: readonly string[]): Promise<ReadonlySet<string>> {
    const result = await this.pool.query<{ meterId: string }>(
      `SELECT meter_id AS "meterId" FROM meters
       WHERE meter_id = ANY($1::text[]) AND society_id IS DISTINCT FROM $2::uuid`,
      [[...new Set(meterIds.map((id) => id.toUpperCase()))], societyId],
    );
    const outside = new Set(result.rows.map((row) => row.meterId));
    return new Set(meterIds.filter((id) => outside.has(id.toUpperCase())));
  }
}

/** The idempotency record of handheld uploads (`handheld_uploads`), first writer wins. */
export class PostgresHandheldUploads implements HandheldUploadStore {
  private readonly uploads: HandheldUploadRepository;

  constructor(pool: Pool) {
    this.uploads = new HandheldUploadRepository(pool);
  }

  async find(uploadId: string): Promise<HandheldUploadResult | undefined> {
    return (await this.uploads.find<HandheldUploadResult>(uploadId))?.result;
  }

  async save(
    uploadId: string,
    itemCount: number,
    result: HandheldUploadResult,
  ): Promise<HandheldUploadResult> {
    return (await this.uploads.record(uploadId, itemCount, result)).upload.result;
  }
}
