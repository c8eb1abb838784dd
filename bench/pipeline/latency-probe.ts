import Redis from 'ioredis';
import { NumberSeries, percentile } from './stats';

export interface LatencyPercentiles {
  telegrams: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * End-to-end latency per telegram, ingest → stored and cached, measured outside the pipeline: the decryptor
 * publishes a batch's readings on their meter group's channel (`<prefix>readings:group:<group>`) only after
 * the batch is stored in PostgreSQL and, call by call, as each part of it is written to Redis (a telegram's
 * readings are never split between calls), and each reading carries `ts` = the collector's
 * receive time. Subscribing to a sample of the groups and taking now − ts per telegram (readings of one
 * telegram share meter and ts) gives the latency of every telegram of those groups. Same machine, same
 * clock; ms resolution.
 */
export class LatencyProbe {
  private readonly redis: Redis;
  private readonly latencies = new NumberSeries();
  private readonly arrivals = new NumberSeries();

  constructor(
    redisUrl: string,
    private readonly channels: string[],
  ) {
    this.redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  }

  async start(): Promise<void> {
    await this.redis.connect();
    this.redis.on('message', (_channel: string, payload: string) => this.onMessage(payload));
    await this.redis.subscribe(...this.channels);
  }

  private onMessage(payload: string): void {
    const now = Date.now();
    const readings = JSON.parse(payload) as Array<{ meterId: string; ts: number }>;
    let previous = '';
    for (const reading of readings) {
      const telegram = `${reading.meterId}@${reading.ts}`;
      // A telegram's readings are adjacent in the batch's list; count the telegram once.
      if (telegram === previous) continue;
      previous = telegram;
      this.latencies.push(now - reading.ts);
      this.arrivals.push(now);
    }
  }

  /** Percentiles of the telegrams whose readings arrived in [fromMs, toMs]. */
  percentiles(fromMs = 0, toMs = Infinity): LatencyPercentiles {
    const arrivals = this.arrivals.values();
    const all = this.latencies.values();
    const picked = new NumberSeries();
    for (let i = 0; i < all.length; i++)
      if (arrivals[i] >= fromMs && arrivals[i] <= toMs) picked.push(all[i]);
    const values = picked.values();
    let max = NaN;
    for (const value of values) max = Number.isNaN(max) ? value : Math.max(max, value);
    return {
      telegrams: values.length,
      p50Ms: percentile(values, 0.5),
      p95Ms: percentile(values, 0.95),
      p99Ms: percentile(values, 0.99),
      maxMs: max,
    };
  }

  async stop(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
