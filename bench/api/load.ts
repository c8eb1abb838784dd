import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';

/**
 * Load generator, in a process of its own so it does not share an event loop with the API. Reads a LoadPlan
 * from the JSON file named by argv[2] (10,000 paths do not fit in one argument) and prints one JSON line with
 * the result on stdout.
 * - kind 'rate': autocannon at a fixed overall request rate over `paths` (picked round-robin from a shuffled
 *   list), latency percentiles as autocannon measures them (request written -> response complete);
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

export interface RateResult {
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
}

export interface SequentialResult {
  timingsMs: number[];
  statuses: number[];
  bytes: number[];
}

async function runRate(plan: Extract<LoadPlan, { kind: 'rate' }>): Promise<RateResult> {
  let next = 0;
  const result = await autocannon({
    url: plan.baseUrl,
    connections: plan.connections,
    overallRate: plan.ratePerSecond,
    duration: plan.seconds,
    headers: { authorization: `Bearer ${plan.token}` },
    requests: [
      {
        setupRequest: (request) => {
          const path = plan.paths[next];
          next = (next + 1) % plan.paths.length;
          return { ...request, path };
        },
      },
    ],
  });
  return {
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    requestsPerSecond: result.requests.average,
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: result.latency.average,
    },
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
