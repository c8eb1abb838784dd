import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
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

interface HttpAnswer {
  status: number;
  retryAfter: string | null;
  text: string;
}

interface CollectorItemResult {
  index: number;
  status: ItemStatus;
  reason?: { code?: string };
}

/**
 * POSTs JSON arrays to the collector's gateway endpoint (`/api/v1/gateways/telegrams`) with the gateway's
 * API key. 429/503 are retried after Retry-After (or back-off when absent), network errors with back-off;
 * 401/403 end the run; other statuses fail the batch, which is counted as not delivered.
 *
 * node:http with a keep-alive agent rather than fetch: fetch turns each body into a web stream and copies it
 * chunk by chunk, several microseconds per item at load-generator rates; the body here is one Buffer.
 */
export class HttpTransport implements Transport {
  readonly name = 'http';
  private readonly url: URL;
  private readonly agent: HttpAgent;
  private readonly request: typeof httpRequest;

  constructor(
    baseUrl: string,
    private readonly tally: SimulationTally,
    private readonly retry: RetryPolicy,
  ) {
    this.url = new URL('/api/v1/gateways/telegrams', baseUrl);
    const https = this.url.protocol === 'https:';
    this.agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.request = https ? httpsRequest : httpRequest;
  }

  async send(gateway: SimGateway, items: WireItem[]): Promise<void> {
    if (gateway.apiKey === undefined) throw new SimulationFatalError(`gateway ${gateway.id} has no API key`);
    const sendId = gateway.idMatchesKey ? gateway.id : undefined;
    // The item JSON is ASCII (hex, ISO time, numbers, ids checked at start): latin1 is its UTF-8.
    const body = Buffer.from(`[${items.map((item) => itemJson(item, sendId)).join(',')}]`, 'latin1');
    const started = this.retry.now();
    for (let attempt = 0; ; attempt++) {
      let waitMs: number;
      let problem: string;
      try {
        this.tally.requests++;
        const response = await this.post(gateway.apiKey, body);
        if (response.status === 200) {
          this.record(items, JSON.parse(response.text));
          return;
        }
        const text = response.text;
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
        waitMs = retryAfterMs(response.retryAfter, Date.now()) ?? backoffMs(attempt);
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

  private post(apiKey: string, body: Buffer): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const request = this.request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            authorization: `Bearer ${apiKey}`,
            'content-type': 'application/json',
            'content-length': body.length,
          },
        },
        (response: IncomingMessage) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            const retryAfter = response.headers['retry-after'];
            resolve({
              status: response.statusCode ?? 0,
              retryAfter: retryAfter === undefined ? null : retryAfter,
              text: Buffer.concat(chunks).toString('utf8'),
            });
          });
        },
      );
      request.on('error', reject);
      request.end(body);
    });
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

  async close(): Promise<void> {
    this.agent.destroy();
  }
}
