import { z } from 'zod';

/**
 * Settings only the decryptor reads (Kafka brokers, topics, database, Redis, port, pool size and master key
 * come from @hes/config). Defaults suit one small machine at the design load; tests shorten the timers.
 */
const int = (min: number) => z.coerce.number().int().min(min);

const schema = z.object({
  DECRYPTOR_GROUP_ID: z.string().min(1).default('hes-decryptor'),
  /**
   * Partition batches of one fetch handled together as one unit of work (one pool task, one transaction,
   * one cache write, one produce). At least the partitions a member is assigned, so a fetch is one unit.
   */
  DECRYPTOR_PARTITIONS_CONCURRENTLY: int(1).default(256),
  DECRYPTOR_SESSION_TIMEOUT_MS: int(3000).default(30_000),
  DECRYPTOR_HEARTBEAT_INTERVAL_MS: int(100).default(3000),
  DECRYPTOR_MAX_WAIT_MS: int(10).default(500),
  DECRYPTOR_MAX_BYTES_PER_PARTITION: int(1024).default(1024 * 1024),
  /**
   * Bytes of one fetch over all partitions, hence of one unit of work: about 3,000 raw telegrams per 512 KiB.
   * Units much larger than that cost more CPU per telegram (garbage collection) and add latency; much smaller
   * ones pay the per-unit round trips more often.
   */
  DECRYPTOR_MAX_BYTES_PER_FETCH: int(1024).default(512 * 1024),
  /**
   * Readings per Redis script call of a unit's cache write (ReadingCache maxReadingsPerCall). Redis serves
   * nobody else while a call runs (≈ 5 µs per reading), so this bounds how long the API's latest reads wait
   * behind ingestion; smaller costs the decryptor more calls (bench/README.md: latest p99 during ingestion).
   */
  DECRYPTOR_CACHE_READINGS_PER_CALL: int(1).default(100),
  /** Identical telegrams of a meter (overlapping gateways) received within this window are dropped. */
  DECRYPTOR_DEDUP_WINDOW_MS: int(0).default(120_000),
  DECRYPTOR_DEDUP_MAX_ENTRIES: int(1).default(500_000),
  DECRYPTOR_RETRY_INITIAL_MS: int(1).default(200),
  DECRYPTOR_RETRY_MAX_MS: int(1).default(10_000),
  DECRYPTOR_FORMAT_REFRESH_MS: int(100).default(30_000),
  DECRYPTOR_KEY_POLL_MS: int(100).default(60_000),
  /** How long "not registered" is believed before the registry is asked again. */
  DECRYPTOR_UNKNOWN_METER_TTL_MS: int(0).default(30_000),
  DECRYPTOR_LAG_POLL_MS: int(100).default(10_000),
  DECRYPTOR_SHUTDOWN_TIMEOUT_MS: int(100).default(30_000),
  /**
   * Storage housekeeping (partitions ahead, retention, TimescaleDB policies and back-dated aggregate refresh)
   * from one decryptor at a time (advisory lock); 0 turns it off where another process runs it.
   */
  DECRYPTOR_MAINTENANCE_MS: int(0).default(300_000),
  /** Apply pending migrations at start-up; 'false' where a deployment job runs `hes migrate` instead. */
  DECRYPTOR_MIGRATE: z.enum(['true', 'false']).default('true'),
});

export interface DecryptorSettings {
  groupId: string;
  partitionsConcurrently: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxWaitTimeMs: number;
  maxBytesPerPartition: number;
  maxBytesPerFetch: number;
  cacheReadingsPerCall: number;
  dedupWindowMs: number;
  dedupMaxEntries: number;
  retryInitialMs: number;
  retryMaxMs: number;
  formatRefreshMs: number;
  keyPollMs: number;
  unknownMeterTtlMs: number;
  lagPollMs: number;
  shutdownTimeoutMs: number;
  migrate: boolean;
  maintenanceMs: number;
}

/** Throws naming every offending variable, e.g. "DECRYPTOR_MAX_WAIT_MS: Too small: expected number to be >=10". */
export function loadDecryptorSettings(env: NodeJS.ProcessEnv = process.env): DecryptorSettings {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`invalid decryptor configuration: ${problems.join('; ')}`);
  }
  const s = parsed.data;
  return Object.freeze({
    groupId: s.DECRYPTOR_GROUP_ID,
    partitionsConcurrently: s.DECRYPTOR_PARTITIONS_CONCURRENTLY,
    sessionTimeoutMs: s.DECRYPTOR_SESSION_TIMEOUT_MS,
    heartbeatIntervalMs: s.DECRYPTOR_HEARTBEAT_INTERVAL_MS,
    maxWaitTimeMs: s.DECRYPTOR_MAX_WAIT_MS,
    maxBytesPerPartition: s.DECRYPTOR_MAX_BYTES_PER_PARTITION,
    maxBytesPerFetch: s.DECRYPTOR_MAX_BYTES_PER_FETCH,
    cacheReadingsPerCall: s.DECRYPTOR_CACHE_READINGS_PER_CALL,
    dedupWindowMs: s.DECRYPTOR_DEDUP_WINDOW_MS,
    dedupMaxEntries: s.DECRYPTOR_DEDUP_MAX_ENTRIES,
    retryInitialMs: s.DECRYPTOR_RETRY_INITIAL_MS,
    retryMaxMs: s.DECRYPTOR_RETRY_MAX_MS,
    formatRefreshMs: s.DECRYPTOR_FORMAT_REFRESH_MS,
    keyPollMs: s.DECRYPTOR_KEY_POLL_MS,
    unknownMeterTtlMs: s.DECRYPTOR_UNKNOWN_METER_TTL_MS,
    lagPollMs: s.DECRYPTOR_LAG_POLL_MS,
    shutdownTimeoutMs: s.DECRYPTOR_SHUTDOWN_TIMEOUT_MS,
    migrate: s.DECRYPTOR_MIGRATE === 'true',
    maintenanceMs: s.DECRYPTOR_MAINTENANCE_MS,
  });
}
