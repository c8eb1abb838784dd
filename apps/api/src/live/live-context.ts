import type { Authenticator } from '@hes/auth';
import type { CacheKeys } from '@hes/cache';
import type { WebSocketConfig } from '@hes/config';
import type { HesMetrics } from '@hes/metrics';
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import type { LiveConnectionContext } from './live-connection';
import { LiveHub } from './live-hub';
import { LiveMetrics } from './live-metrics';
import { LiveRepository } from './live-repository';

export interface LiveDependencies {
  pool: Pool;
  redis: Redis;
  keys: CacheKeys;
  metrics: HesMetrics;
  settings: WebSocketConfig;
}

/** Everything the live gateway's connections share, built once per API instance. */
export function createLiveContext(
  deps: LiveDependencies,
  authenticator: Authenticator,
): LiveConnectionContext {
  const metrics = new LiveMetrics(deps.metrics);
  const repository = new LiveRepository(deps.pool);
  const hub = new LiveHub({
    repository,
    redis: deps.redis,
    keys: deps.keys,
    metrics,
    membershipRefreshMs: deps.settings.membershipRefreshMs,
  });
  return { hub, repository, authenticator, metrics, settings: deps.settings };
}
