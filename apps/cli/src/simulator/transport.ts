import type { WireItem } from './wire-item';

/** A gateway the simulator sends as: its id, and for HTTP the API key the collector knows it by. */
export interface SimGateway {
  id: string;
  apiKey?: string;
  /**
   * Whether items may name the gateway (`gatewayId`): only when the id is the one the collector has for
   * the key (registered by this run), since the collector rejects items naming another gateway.
   */
  idMatchesKey: boolean;
}

/** Moves batches of items to the collector and records each item's outcome in the tally. */
export interface Transport {
  readonly name: 'http' | 'mqtt';
  /** Resolves once the batch has an outcome (accepted/duplicate/rejected per item, or given up on). */
  send(gateway: SimGateway, items: WireItem[]): Promise<void>;
  close(): Promise<void>;
}

/** The collector refuses the simulator as such (bad API key): no point in going on. */
export class SimulationFatalError extends Error {
  override readonly name = 'SimulationFatalError';
}

export interface RetryPolicy {
  /** A batch is given up on (counted as not delivered) once it has been retried for this long. */
  maxRetryMs: number;
  sleep(ms: number): Promise<void>;
  now(): number;
}

/** Exponential back-off with full jitter, 250 ms doubling to 10 s. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(10_000, 250 * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Retry-After as seconds or an HTTP date, in ms from `now`; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
