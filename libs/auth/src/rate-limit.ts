import { Injectable, Logger, type ExecutionContext } from '@nestjs/common';
import {
  ThrottlerGuard,
  ThrottlerStorageService,
  type ThrottlerOptions,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type Redis from 'ioredis';
import { createHash } from 'node:crypto';
import { LOGIN_THROTTLE, type RequestWithPrincipal } from './decorators';
import { actorOf } from './principal';

/**
 * Adds an instance's hits to the shared fixed-window counter (INCRBY, expiry set when the window starts) and
 * reads the shared state back; once the count passes the limit with these hits, sets a block key that answers
 * "blocked" until it expires. With no hits to add it only reads. Shared by every API instance.
 * KEYS: counter, block. ARGV: window ms, limit, block ms, hits to add.
 * Returns hits (all instances', in this window), window ms left, blocked (0/1), block ms left.
 */
const SYNC = `
local add = tonumber(ARGV[4])
local hits
if add > 0 then
  hits = redis.call('INCRBY', KEYS[1], add)
  if redis.call('PTTL', KEYS[1]) == -1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
else
  hits = tonumber(redis.call('GET', KEYS[1]) or '0')
end
local windowLeft = redis.call('PTTL', KEYS[1])
local blockLeft = redis.call('PTTL', KEYS[2])
if blockLeft > 0 then return {hits, windowLeft, 1, blockLeft} end
if add > 0 and hits > tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  return {hits, windowLeft, 1, tonumber(ARGV[3])}
end
return {hits, windowLeft, 0, 0}`;
const SYNC_SHA1 = createHash('sha1').update(SYNC).digest('hex');

/** What ThrottlerStorage.increment answers (the package does not export the type by name). */
type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** Hits, window ms left, blocked (0/1), block ms left: the SYNC script's answer. */
type SharedState = [number, number, number, number];

export interface RateLimitStorageOptions {
  /** One check answered by the in-process limiter because Redis could not answer it. */
  fallback?: () => void;
  /** Where the outage is reported: a warning when it starts, a notice when Redis is back. */
  logger?: Pick<Logger, 'warn' | 'log'>;
  /** How often an instance sends its hits to Redis and reads the shared count back (per active key); 200 ms. */
  syncIntervalMs?: number;
}

/** One key's shared window as this instance last saw it, plus its hits Redis has not been told about. */
interface SharedWindow {
  ttl: number;
  limit: number;
  blockDuration: number;
  /** All instances' hits in the window at the last sync (this instance's sent hits included). */
  sharedHits: number;
  /** This instance's hits since the last sync. */
  unsentHits: number;
  windowEndsAtMs: number;
  blockedUntilMs: number;
}

/**
 * @nestjs/throttler storage in Redis, so a limit holds across API instances. Keys live under `prefix`.
 *
 * Checks are answered in process from the shared count, kept current in batches instead of a Redis round trip
 * per request: the first check of a key (or the first after its window ended) goes to Redis and returns the
 * shared count; later checks add to a local count of unsent hits and are decided on shared + unsent; every
 * syncIntervalMs the instance adds its unsent hits to the shared counter (INCRBY) and reads the total back,
 * which then includes the other instances' hits. A limit therefore holds across instances within one sync
 * interval: each instance sees the others' hits at most syncIntervalMs late, so N instances may together let
 * through at most what they receive in one interval beyond the limit. A block (limit passed) starts at once on
 * the instance that saw it and reaches the others with its next sync.
 *
 * When Redis is down the limiter degrades instead of failing every request: checks are answered by an
 * in-process limiter with the same limits (@nestjs/throttler's own memory storage), so each instance enforces
 * the limit on its own share of the traffic until Redis answers again. A client that is not connected is not
 * waited for (its offline queue would hold every request for the reconnect delay); every fallback is counted
 * and the outage is logged once when it starts and once when Redis is back. A batch that Redis refused is
 * dropped with the key's window, so the key's next check asks Redis (or falls back) again.
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly local = new ThrottlerStorageService();
  private readonly logger: Pick<Logger, 'warn' | 'log'>;
  private readonly syncIntervalMs: number;
  private readonly windows = new Map<string, SharedWindow>();
  private syncTimer: NodeJS.Timeout | undefined;
  private degraded = false;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly options: RateLimitStorageOptions = {},
  ) {
    this.logger = options.logger ?? new Logger('RateLimiter');
    this.syncIntervalMs = options.syncIntervalMs ?? 200;
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    const base = `${this.prefix}${throttlerName}:${key}`;
    if (this.redis.status !== 'ready') {
      return this.fallBack(base, ttl, limit, blockDuration, throttlerName, `Redis ${this.redis.status}`);
    }
    const nowMs = Date.now();
    const known = this.windows.get(base);
    if (known !== undefined && nowMs < known.windowEndsAtMs) {
      known.unsentHits++;
      this.scheduleSync();
      return this.decide(known, nowMs);
    }
    // Hits not sent before the window ended belong to no window any more.
    if (known !== undefined) this.windows.delete(base);
    let reply: SharedState;
    try {
      reply = await this.syncInRedis(base, ttl, limit, blockDuration, 1);
    } catch (error) {
      return this.fallBack(base, ttl, limit, blockDuration, throttlerName, (error as Error).message);
    }
    this.recovered();
    const answeredMs = Date.now();
    // A concurrent first check may have made the window meanwhile; this reply is the newer shared count.
    const window = this.windows.get(base) ?? {
      ttl,
      limit,
      blockDuration,
      sharedHits: 0,
      unsentHits: 0,
      windowEndsAtMs: 0,
      blockedUntilMs: 0,
    };
    this.applySharedState(window, reply, answeredMs);
    this.windows.set(base, window);
    return this.decide(window, answeredMs);
  }

  /**
   * Sends every key's unsent hits to Redis and reads the shared counts back (what the sync timer does);
   * forgets keys whose window has ended.
   */
  async sync(): Promise<void> {
    clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    const nowMs = Date.now();
    const batches: Promise<void>[] = [];
    for (const [base, window] of this.windows) {
      if (nowMs >= window.windowEndsAtMs) {
        this.windows.delete(base);
        continue;
      }
      if (window.unsentHits === 0) continue;
      const hits = window.unsentHits;
      window.unsentHits = 0;
      batches.push(
        this.syncInRedis(base, window.ttl, window.limit, window.blockDuration, hits).then(
          (reply) => {
            this.recovered();
            this.applySharedState(window, reply, Date.now());
          },
          (error: unknown) => {
            if (this.windows.get(base) === window) this.windows.delete(base);
            this.reportOutage((error as Error).message);
          },
        ),
      );
    }
    await Promise.all(batches);
  }

  /** Sends the last unsent hits and stops the sync timer and the in-process limiter's sweep (Nest calls this). */
  async onApplicationShutdown(): Promise<void> {
    this.local.onApplicationShutdown();
    if (this.redis.status === 'ready') await this.sync();
    clearTimeout(this.syncTimer);
  }

  /** The check's answer from the shared count and this instance's unsent hits; passing the limit blocks. */
  private decide(window: SharedWindow, nowMs: number): ThrottlerStorageRecord {
    const totalHits = window.sharedHits + window.unsentHits;
    if (window.blockedUntilMs <= nowMs && totalHits > window.limit) {
      window.blockedUntilMs = nowMs + window.blockDuration;
    }
    const blocked = window.blockedUntilMs > nowMs;
    return {
      totalHits,
      timeToExpire: Math.max(0, Math.ceil((window.windowEndsAtMs - nowMs) / 1000)),
      isBlocked: blocked,
      timeToBlockExpire: blocked ? Math.ceil((window.blockedUntilMs - nowMs) / 1000) : 0,
    };
  }

  private applySharedState(window: SharedWindow, reply: SharedState, nowMs: number): void {
    const [hits, windowLeftMs, blocked, blockLeftMs] = reply;
    window.sharedHits = hits;
    window.windowEndsAtMs = nowMs + Math.max(0, windowLeftMs);
    if (blocked === 1) window.blockedUntilMs = Math.max(window.blockedUntilMs, nowMs + blockLeftMs);
  }

  private scheduleSync(): void {
    if (this.syncTimer !== undefined) return;
    this.syncTimer = setTimeout(() => void this.sync(), this.syncIntervalMs);
    this.syncTimer.unref();
  }

  /**
   * The script by its SHA-1 (EVALSHA: a few bytes per call instead of the script's text, and no hashing of it
   * by Redis on every call); loaded with EVAL when this Redis does not know it yet (first use, restart, flush).
   */
  private async syncInRedis(
    base: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    hits: number,
  ): Promise<SharedState> {
    const args = [
      `${base}:hits`,
      `${base}:block`,
      String(ttl),
      String(limit),
      String(blockDuration),
      String(hits),
    ];
    try {
      return (await this.redis.evalsha(SYNC_SHA1, 2, ...args)) as SharedState;
    } catch (error) {
      if (!(error as Error).message.startsWith('NOSCRIPT')) throw error;
      return (await this.redis.eval(SYNC, 2, ...args)) as SharedState;
    }
  }

  private recovered(): void {
    if (!this.degraded) return;
    this.degraded = false;
    this.logger.log('Redis answers again: rate limits are shared across instances again');
  }

  private reportOutage(reason: string): void {
    if (this.degraded) return;
    this.degraded = true;
    this.logger.warn(`Redis unavailable (${reason}): rate limits enforced per instance until it is back`);
  }

  private fallBack(
    base: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
    reason: string,
  ): Promise<ThrottlerStorageRecord> {
    this.options.fallback?.();
    this.reportOutage(reason);
    return this.local.increment(base, ttl, limit, blockDuration, throttlerName);
  }
}

/**
 * Rate limits per principal (user, API key, external subject), and per client address for unauthenticated
 * requests. Must run after AuthGuard, which sets the principal: register it as the second global guard.
 * The key is the tracker alone, not the route, so the limit covers all of a principal's requests together.
 */
@Injectable()
export class PrincipalThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    const principal = (req as RequestWithPrincipal).principal;
    return principal ? actorOf(principal) : `ip:${String(req.ip)}`;
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, throttlerName: string): string {
    return `${throttlerName}:${tracker}`;
  }
}

export interface RateLimits {
  requestsPerMinute: number;
  loginAttemptsPerMinute: number;
}

const MINUTE_MS = 60_000;

/**
 * Two named throttlers: `requests` on every route, and `login` only on @LoginThrottle() routes (keyed by client
 * address there, as nobody is authenticated yet).
 */
export function rateLimitThrottlers(limits: RateLimits): ThrottlerOptions[] {
  return [
    { name: 'requests', ttl: MINUTE_MS, limit: limits.requestsPerMinute },
    {
      name: 'login',
      ttl: MINUTE_MS,
      limit: limits.loginAttemptsPerMinute,
      skipIf: (context) => Reflect.getMetadata(LOGIN_THROTTLE, context.getHandler()) !== true,
    },
  ];
}
