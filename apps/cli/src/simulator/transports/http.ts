import { SimulationTally, type ItemStatus } from '../tally';
import {
  backoffMs,
  retryAfterMs,
  SimulationFatalError,
  type RetryPolicy,
  type SimGateway,
  type Transport,
} from '../transport';
import { itemJson, type WireItem } from '../wire-item';

interface CollectorItemResult {
  index: number;
  status: ItemStatus;
  reason?: { code?: string };
}

/**
 * POSTs JSON arrays to the collector's gateway endpoint (`/api/v1/gateways/telegrams`) with the gateway's
 * API key. 429/503 are retried after Retry-After (or back-off when absent), network errors with back-off;
 * 401/403 end the run; other statuses fail the batch, which is counted as not delivered.
 */
export class HttpTransport implements Transport {
  readonly name = 'http';
  private readonly url: string;

  constructor(
    baseUrl: string,
    private readonly tally: SimulationTally,
    private readonly retry: RetryPolicy,
  ) {
    this.url = new URL('/api/v1/gateways/telegrams', baseUrl).toString();
  }

  async send(gateway: SimGateway, items: WireItem[]): Promise<void> {
    if (gateway.apiKey === undefined) throw new SimulationFatalError(`gateway ${gateway.id} has no API key`);
    const sendId = gateway.idMatchesKey ? gateway.id : undefined;
    const body = `[${items.map((item) => itemJson(item, sendId)).join(',')}]`;
    const started = this.retry.now();
    for (let attempt = 0; ; attempt++) {
      let waitMs: number;
      let problem: string;
      try {
        this.tally.requests++;
        const response = await fetch(this.url, {
          method: 'POST',
          headers: { authorization: `Bearer ${gateway.apiKey}`, 'content-type': 'application/json' },
          body,
        });
        if (response.status === 200) {
          this.record(items, await response.json());
          return;
        }
        const text = await response.text();
        if (response.status === 401 || response.status === 403) {
          throw new SimulationFatalError(
            `collector refused the API key of gateway ${gateway.id} (HTTP ${response.status})`,
          );
        }
        if (response.status !== 429 && response.status !== 503) {
          this.tally.notDelivered(items.length, `HTTP ${response.status}: ${text.slice(0, 200)}`);
          return;
        }
        if (response.status === 429) this.tally.throttled429++;
        else this.tally.unavailable503++;
        problem = `HTTP ${response.status}`;
        waitMs = retryAfterMs(response.headers.get('retry-after'), Date.now()) ?? backoffMs(attempt);
      } catch (error) {
        if (error instanceof SimulationFatalError) throw error;
        problem = `network: ${(error as Error).message}`;
        waitMs = backoffMs(attempt);
      }
      if (this.retry.now() + waitMs - started > this.retry.maxRetryMs) {
        this.tally.notDelivered(items.length, `gave up after ${attempt + 1} attempts (${problem})`);
        return;
      }
      this.tally.retries++;
      await this.retry.sleep(waitMs);
    }
  }

  private record(items: WireItem[], response: unknown): void {
    const results = (response as { results?: CollectorItemResult[] }).results;
    if (!Array.isArray(results) || results.length !== items.length) {
      this.tally.notDelivered(items.length, 'collector answered 200 without one result per item');
      return;
    }
    for (const result of results) {
      const item = items[result.index];
      if (item === undefined) continue;
      this.tally.outcome(item, result.status, result.reason?.code);
    }
  }

  async close(): Promise<void> {}
}
