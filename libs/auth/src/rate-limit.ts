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
 * One Redis round trip per check (two the first time a Redis sees the script): a fixed window counter (INCR, expiry set by the first hit) and, once the limit
 * is passed, a block key that answers "blocked" until it expires. Shared by every API instance.
 * KEYS: counter, block. ARGV: window ms, limit, block ms. Returns hits, window ms left, blocked (0/1), block ms left.
 */
const INCREMENT = `
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local windowLeft = redis.call('PTTL', KEYS[1])
local blockLeft = redis.call('PTTL', KEYS[2])
if blockLeft > 0 then return {hits, windowLeft, 1, blockLeft} end
if hits > tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  return {hits, windowLeft, 1, tonumber(ARGV[3])}
end
return {hits, windowLeft, 0, 0}`;
const INCREMENT_SHA1 = createHash('sha1').update(INCREMENT).digest('hex');

/** What ThrottlerStorage.increment answers (the package does not export the type by name). */
type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** What the rate limiter reports about Redis outages (a log line per outage, a metric per fallback). */
export interface RateLimitStorageEvents {
  /** One check answered by the in-process limiter because Redis could not answer it. */
  fallback?: () => void;
  logger?: Pick<Logger, 'warn' | 'log'>;
}

/**
 * @nestjs/throttler storage in Redis, so a limit holds across API instances. Keys live under `prefix`.
 *
 * When Redis is down the limiter degrades instead of failing every request: checks are answered by an
 * in-process limiter with the same limits (@nestjs/throttler's own memory storage), so each instance enforces
 * the limit on its own share of the traffic until Redis answers again. A client that is not connected is not
 * waited for (its offline queue would hold every request for the reconnect delay); every fallback is counted
 * and the outage is logged once when it starts and once when Redis is back.
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly local = new ThrottlerStorageService();
  private readonly logger: Pick<Logger, 'warn' | 'log'>;
  private degraded = false;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly events: RateLimitStorageEvents = {},
  ) {
    this.logger = events.logger ?? new Logger('RateLimiter');
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
    let reply: [number, number, number, number];
    try {
      reply = await this.incrementInRedis(base, ttl, limit, blockDuration);
    } catch (error) {
      return this.fallBack(base, ttl, limit, blockDuration, throttlerName, (error as Error).message);
    }
    if (this.degraded) {
      this.degraded = false;
      this.logger.log('Redis answers again: rate limits are shared across instances again');
    }
    const [hits, windowLeftMs, blocked, blockLeftMs] = reply;
    return {
      totalHits: hits,
      timeToExpire: Math.max(0, Math.ceil(windowLeftMs / 1000)),
      isBlocked: blocked === 1,
      timeToBlockExpire: Math.max(0, Math.ceil(blockLeftMs / 1000)),
    };
  }

  /**
   * The script by its SHA-1 (EVALSHA: a few bytes per check instead of the script's text, and no hashing of it
   * by Redis on every call); loaded with EVAL when this Redis does not know it yet (first use, restart, flush).
   */
  private async incrementInRedis(
    base: string,
    ttl: number,
    limit: number,
    blockDuration: number,
  ): Promise<[number, number, number, number]> {
    const args = [`${base}:hits`, `${base}:block`, String(ttl), String(limit), String(blockDuration)];
    try {
      return (await this.redis.evalsha(INCREMENT_SHA1, 2, ...args)) as [number, number, number, number];
    } catch (error) {
      if (!(error as Error).message.startsWith('NOSCRIPT')) throw error;
      return (await this.redis.eval(INCREMENT, 2, ...args)) as [number, number, number, number];
    }
  }

  /** Stops the in-process limiter's sweep timer (Nest calls this when the app closes). */
  onApplicationShutdown(): void {
    this.local.onApplicationShutdown();
  }

  private fallBack(
    base: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
    reason: string,
  ): Promise<ThrottlerStorageRecord> {
    this.events.fallback?.();
    if (!this.degraded) {
      this.degraded = true;
      this.logger.warn(`Redis unavailable (${reason}): rate limits enforced per instance until it is back`);
    }
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
