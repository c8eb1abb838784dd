import { parseTrustProxy, type TrustProxy } from '@hes/config';
import { z } from 'zod';

/**
 * Settings that only the collector reads (shared settings — Kafka, topics, database, MQTT — come from
 * @hes/config). Every one has a default sized for one small machine at the design load.
 */
const int = (min: number) => z.coerce.number().int().min(min);
const flag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true or false' })
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const schema = z.object({
  COLLECTOR_DEDUP_WINDOW_MS: int(0).default(300_000),
  /** ~100 bytes each: 1M entries ≈ 100 MB. At higher rates the effective window shrinks instead. */
  COLLECTOR_DEDUP_MAX_ENTRIES: int(1).default(1_000_000),
  COLLECTOR_MAX_INFLIGHT_MESSAGES: int(1).default(40_000),
  COLLECTOR_MAX_INFLIGHT_BYTES: int(1).default(32 * 1024 * 1024),
  COLLECTOR_MAX_JSON_BODY_BYTES: int(1024).default(8 * 1024 * 1024),
  COLLECTOR_MAX_UPLOAD_BYTES: int(1024).default(32 * 1024 * 1024),
  COLLECTOR_NDJSON_MAX_LINE_BYTES: int(64).default(4096),
  /** Items handed to Kafka per step while streaming NDJSON or a handheld upload. */
  COLLECTOR_STREAM_GROUP_SIZE: int(1).default(1000),
  COLLECTOR_MAX_ITEMS_PER_REQUEST: int(1).default(200_000),
  COLLECTOR_MAX_FUTURE_SKEW_MS: int(0).default(600_000),
  COLLECTOR_API_KEY_CACHE_MS: int(0).default(60_000),
  COLLECTOR_METER_GROUP_REFRESH_MS: int(1000).default(300_000),
  COLLECTOR_METER_GROUP_CACHE_ENTRIES: int(1).default(2_000_000),
  COLLECTOR_DEFAULT_METER_GROUP: z.string().min(1).default('default'),
  /** Retry-After (seconds) for 503 (broker or registry down) and 429 (too much in flight). */
  COLLECTOR_RETRY_AFTER_UNAVAILABLE_S: int(1).default(5),
  COLLECTOR_RETRY_AFTER_OVERLOADED_S: int(1).default(1),
  /** Apply pending database migrations before serving (off when a deploy job migrates instead). */
  COLLECTOR_MIGRATE_ON_START: flag.default(true),
  COLLECTOR_DB_POOL_SIZE: int(1).default(10),
  COLLECTOR_MQTT_ENABLED: flag.default(true),
  COLLECTOR_MQTT_SHARE_GROUP: z
    .string()
    .regex(/^[^/+#]+$/, 'may not contain / + or #')
    .default('hes-collector'),
  /** Stable per instance, since the MQTT session (clean: false) is kept under it; default hes-collector-<host>-<port>. */
  COLLECTOR_MQTT_CLIENT_ID: z.string().min(1).max(128).optional(),
  /** How long SIGTERM waits for in-flight requests and messages before closing their connections. */
  COLLECTOR_SHUTDOWN_TIMEOUT_MS: int(0).default(30_000),
  /** Proxies whose X-Forwarded-For gives the client address (see @hes/config parseTrustProxy); off by default. */
  COLLECTOR_TRUST_PROXY: z
    .string()
    .transform((text, context): TrustProxy => {
      const parsed = parseTrustProxy(text);
      if (parsed.ok) return parsed.value;
      context.addIssue({ code: 'custom', message: parsed.message });
      return z.NEVER;
    })
    .default(false),
});

export interface CollectorSettings {
  dedupWindowMs: number;
  dedupMaxEntries: number;
  maxInFlightMessages: number;
  maxInFlightBytes: number;
  maxJsonBodyBytes: number;
  maxUploadBytes: number;
  ndjsonMaxLineBytes: number;
  streamGroupSize: number;
  maxItemsPerRequest: number;
  maxFutureSkewMs: number;
  apiKeyCacheMs: number;
  meterGroupRefreshMs: number;
  meterGroupCacheEntries: number;
  defaultMeterGroup: string;
  retryAfterUnavailableSeconds: number;
  retryAfterOverloadedSeconds: number;
  migrateOnStart: boolean;
  dbPoolSize: number;
  mqttEnabled: boolean;
  mqttShareGroup: string;
  mqttClientId: string | undefined;
  shutdownTimeoutMs: number;
  trustProxy: TrustProxy;
}

/** Throws with every offending variable named, e.g. "COLLECTOR_DEDUP_WINDOW_MS: expected number". */
export function loadCollectorSettings(env: NodeJS.ProcessEnv = process.env): CollectorSettings {
  // Empty values count as unset, as in @hes/config (compose files and CI often pass `VAR=`).
  const set = Object.fromEntries(
    Object.entries(env).filter(([name, value]) => name.startsWith('COLLECTOR_') && value?.trim()),
  );
  const parsed = schema.safeParse(set);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`invalid collector configuration: ${problems.join('; ')}`);
  }
  const s = parsed.data;
  return Object.freeze({
    dedupWindowMs: s.COLLECTOR_DEDUP_WINDOW_MS,
    dedupMaxEntries: s.COLLECTOR_DEDUP_MAX_ENTRIES,
    maxInFlightMessages: s.COLLECTOR_MAX_INFLIGHT_MESSAGES,
    maxInFlightBytes: s.COLLECTOR_MAX_INFLIGHT_BYTES,
    maxJsonBodyBytes: s.COLLECTOR_MAX_JSON_BODY_BYTES,
    maxUploadBytes: s.COLLECTOR_MAX_UPLOAD_BYTES,
    ndjsonMaxLineBytes: s.COLLECTOR_NDJSON_MAX_LINE_BYTES,
    streamGroupSize: s.COLLECTOR_STREAM_GROUP_SIZE,
    maxItemsPerRequest: s.COLLECTOR_MAX_ITEMS_PER_REQUEST,
    maxFutureSkewMs: s.COLLECTOR_MAX_FUTURE_SKEW_MS,
    apiKeyCacheMs: s.COLLECTOR_API_KEY_CACHE_MS,
    meterGroupRefreshMs: s.COLLECTOR_METER_GROUP_REFRESH_MS,
    meterGroupCacheEntries: s.COLLECTOR_METER_GROUP_CACHE_ENTRIES,
    defaultMeterGroup: s.COLLECTOR_DEFAULT_METER_GROUP,
    retryAfterUnavailableSeconds: s.COLLECTOR_RETRY_AFTER_UNAVAILABLE_S,
    retryAfterOverloadedSeconds: s.COLLECTOR_RETRY_AFTER_OVERLOADED_S,
    migrateOnStart: s.COLLECTOR_MIGRATE_ON_START,
    dbPoolSize: s.COLLECTOR_DB_POOL_SIZE,
    mqttEnabled: s.COLLECTOR_MQTT_ENABLED,
    mqttShareGroup: s.COLLECTOR_MQTT_SHARE_GROUP,
    mqttClientId: s.COLLECTOR_MQTT_CLIENT_ID,
    shutdownTimeoutMs: s.COLLECTOR_SHUTDOWN_TIMEOUT_MS,
    trustProxy: s.COLLECTOR_TRUST_PROXY,
  });
}
