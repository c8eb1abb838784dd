import { Agent, request } from 'node:http';
import { readFileSync } from 'node:fs';
import { percentiles } from './measure';

/**
 * Load generator, in a process of its own so it does not share an event loop with the API. Reads a LoadPlan
 * from the JSON file named by argv[2] (10,000 paths do not fit in one argument) and prints one JSON line with
 * the result on stdout.
 * - kind 'rate': open-loop load, one request every 1/ratePerSecond s (paths round-robin from a shuffled list) over
 *   at most `connections` keep-alive connections; latency runs from the instant a request was due to the end of
 *   its response, so waiting for a free connection counts. autocannon's overallRate was used before: it lets each
 *   connection send its share of a second back to back at the start of every second and then pause, so at 200/s
 *   over 20 connections all 200 requests arrived within the same few tens of milliseconds, 20 at a time, and the
 *   figures measured that burst's queue (one day at 200/s: p50 18 ms for ≈ 1 ms of API CPU per request).
 * - kind 'sequential': one request at a time, `repeat` times per path, wall time per request measured here.
 */
export type LoadPlan =
  | {
      kind: 'rate';
      baseUrl: string;
      token: string;
      paths: string[];
      ratePerSecond: number;
      connections: number;
      seconds: number;
      /**
       * Seconds of the same load sent first and not measured, on the same connections and in the same process:
       * they open the connections and warm this process's code and the server's, which a separate warm-up process
       * did not do for the measured one (its first second had 20 ms stalls while its 50 connections opened).
       */
      warmupSeconds?: number;
    }
  | { kind: 'sequential'; baseUrl: string; token: string; paths: string[]; repeat: number; accept?: string };

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface RateResult {
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  requestsPerSecond: number;
  /** Due instant -> response complete, ms with 0.1 ms resolution. */
  latencyMs: Percentiles;
  /**
   * Handed to the HTTP client -> response complete: latencyMs without this process's own lateness (dispatchLagMs),
   * what a client that sent on time would have seen.
   */
  responseMs: Percentiles;
  /**
   * The largest latencyMs of each second of the run, in order: whether the tail is spread over the run or sits in
   * a few stalls (or at the start, while connections open).
   */
  maxBySecondMs: number[];
  /** Due instant -> handed to the HTTP client: how late this process itself was (its timers, its own load). */
  dispatchLagMs: Percentiles;
}

export interface SequentialResult {
  timingsMs: number[];
  statuses: number[];
  bytes: number[];
}

/** A request without an answer after this long counts as a timeout. */
const REQUEST_TIMEOUT_MS = 10_000;

async function runRate(plan: Extract<LoadPlan, { kind: 'rate' }>): Promise<RateResult> {
  const url = new URL(plan.baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: plan.connections });
  const headers = { authorization: `Bearer ${plan.token}` };
  const intervalMs = 1000 / plan.ratePerSecond;
  const warmupMs = (plan.warmupSeconds ?? 0) * 1000;
  const total = Math.round((plan.ratePerSecond * (warmupMs + plan.seconds * 1000)) / 1000);
  const latencies: number[] = [];
  const maxBySecond = new Array<number>(Math.ceil(plan.seconds)).fill(0);
  const responses: number[] = [];
  const lags: number[] = [];
  const result = { requests: 0, non2xx: 0, errors: 0, timeouts: 0 };
  const inFlight = new Set<Promise<void>>();

  const send = (path: string, dueAt: number, measured: boolean) => {
    const sentAt = performance.now();
    if (measured) lags.push(sentAt - dueAt);
    const done = new Promise<void>((resolve) => {
      let timedOut = false;
      const outgoing = request(
        { host: url.hostname, port: url.port, path, headers, agent, timeout: REQUEST_TIMEOUT_MS },
        (response) => {
          response.on('data', () => undefined);
          response.on('end', () => {
            if (!measured) return;
            const doneAt = performance.now();
            latencies.push(doneAt - dueAt);
            const second = Math.min(maxBySecond.length - 1, Math.floor((dueAt - measuredFrom) / 1000));
            maxBySecond[second] = Math.max(maxBySecond[second], Math.round((doneAt - dueAt) * 10) / 10);
            responses.push(doneAt - sentAt);
            result.requests++;
            if (response.statusCode === undefined || response.statusCode < 200 || response.statusCode > 299) {
              result.non2xx++;
            }
          });
          response.on('error', () => {
            if (measured) result.errors++;
          });
        },
      );
      outgoing.on('timeout', () => {
        timedOut = true;
        if (measured) result.timeouts++;
        outgoing.destroy();
      });
      outgoing.on('error', () => {
        if (!timedOut && measured) result.errors++;
      });
      // Emitted once the response is complete or the request failed, whichever way.
      outgoing.on('close', resolve);
      outgoing.end();
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };

  const started = performance.now();
  const measuredFrom = started + warmupMs;
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      // Every request due by now goes out, so a late timer sends a catch-up batch instead of lowering the rate.
      while (sent < total && started + sent * intervalMs <= performance.now()) {
        const dueAt = started + sent * intervalMs;
        send(plan.paths[sent % plan.paths.length], dueAt, dueAt >= measuredFrom);
        sent++;
      }
      if (sent < total) setTimeout(tick, Math.max(0, started + sent * intervalMs - performance.now()));
      else resolve();
    };
    tick();
  });
  await Promise.all(inFlight);
  const elapsedSeconds = (performance.now() - measuredFrom) / 1000;
  agent.destroy();
  return {
    ...result,
    requestsPerSecond: Math.round((result.requests / elapsedSeconds) * 10) / 10,
    latencyMs: percentiles(latencies),
    responseMs: percentiles(responses),
    maxBySecondMs: maxBySecond,
    dispatchLagMs: percentiles(lags),
  };
}

async function runSequential(plan: Extract<LoadPlan, { kind: 'sequential' }>): Promise<SequentialResult> {
  const result: SequentialResult = { timingsMs: [], statuses: [], bytes: [] };
  for (let round = 0; round < plan.repeat; round++) {
    for (const path of plan.paths) {
      const started = performance.now();
      const response = await fetch(`${plan.baseUrl}${path}`, {
        headers: { authorization: `Bearer ${plan.token}`, accept: plan.accept ?? 'application/json' },
      });
      const body = await response.arrayBuffer();
      result.timingsMs.push(performance.now() - started);
      result.statuses.push(response.status);
      result.bytes.push(body.byteLength);
    }
  }
  return result;
}

async function main(): Promise<void> {
  const plan = JSON.parse(readFileSync(process.argv[2], 'utf8')) as LoadPlan;
  const result = plan.kind === 'rate' ? await runRate(plan) : await runSequential(plan);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`load generator failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
