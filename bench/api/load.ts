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
  const total = Math.round(plan.ratePerSecond * plan.seconds);
  const latencies: number[] = [];
  const lags: number[] = [];
  const result = { requests: 0, non2xx: 0, errors: 0, timeouts: 0 };
  const inFlight = new Set<Promise<void>>();

  const send = (path: string, dueAt: number) => {
    lags.push(performance.now() - dueAt);
    const done = new Promise<void>((resolve) => {
      let timedOut = false;
      const outgoing = request(
        { host: url.hostname, port: url.port, path, headers, agent, timeout: REQUEST_TIMEOUT_MS },
        (response) => {
          response.on('data', () => undefined);
          response.on('end', () => {
            latencies.push(performance.now() - dueAt);
            result.requests++;
            if (response.statusCode === undefined || response.statusCode < 200 || response.statusCode > 299) {
              result.non2xx++;
            }
          });
          response.on('error', () => {
            result.errors++;
          });
        },
      );
      outgoing.on('timeout', () => {
        timedOut = true;
        result.timeouts++;
        outgoing.destroy();
      });
      outgoing.on('error', () => {
        if (!timedOut) result.errors++;
      });
      // Emitted once the response is complete or the request failed, whichever way.
      outgoing.on('close', resolve);
      outgoing.end();
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };

  const started = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      // Every request due by now goes out, so a late timer sends a catch-up batch instead of lowering the rate.
      while (sent < total && started + sent * intervalMs <= performance.now()) {
        send(plan.paths[sent % plan.paths.length], started + sent * intervalMs);
        sent++;
      }
      if (sent < total) setTimeout(tick, Math.max(0, started + sent * intervalMs - performance.now()));
      else resolve();
    };
    tick();
  });
  await Promise.all(inFlight);
  const elapsedSeconds = (performance.now() - started) / 1000;
  agent.destroy();
  return {
    ...result,
    requestsPerSecond: Math.round((result.requests / elapsedSeconds) * 10) / 10,
    latencyMs: percentiles(latencies),
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
