import { Injectable, type ExecutionContext } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerOptions, type ThrottlerStorage } from '@nestjs/throttler';
import type Redis from 'ioredis';
import { LOGIN_THROTTLE, type RequestWithPrincipal } from './decorators';
import { actorOf } from './principal';

/**
 * One Redis round trip per check: a fixed window counter (INCR, expiry set by the first hit) and, once the limit
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

/** What ThrottlerStorage.increment answers (the package does not export the type by name). */
type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** @nestjs/throttler storage in Redis, so a limit holds across API instances. Keys live under `prefix`. */
export class RedisThrottlerStorage implements ThrottlerStorage {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    const base = `${this.prefix}${throttlerName}:${key}`;
    const [hits, windowLeftMs, blocked, blockLeftMs] = (await this.redis.eval(
      INCREMENT,
      2,
      `${base}:hits`,
      `${base}:block`,
      String(ttl),
      String(limit),
      String(blockDuration),
    )) as [number, number, number, number];
    return {
      totalHits: hits,
      timeToExpire: Math.max(0, Math.ceil(windowLeftMs / 1000)),
      isBlocked: blocked === 1,
      timeToBlockExpire: Math.max(0, Math.ceil(blockLeftMs / 1000)),
    };
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
