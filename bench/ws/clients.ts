import { createInterface } from 'node:readline';
import WebSocket from 'ws';

/**
 * The bench's WebSocket clients, in a process of their own so their CPU does not count as the API's: opens
 * one connection per plan entry with the bearer token in the upgrade request, subscribes, and records for
 * every reading received the delay from its `ts` (set to the publish time by the publisher, same machine
 * clock) to its arrival. Prints `{"ready":...}` once every subscription is confirmed; on the stdin line
 * `reset` forgets what was recorded so far (end of warm-up); on `report` prints the results and exits.
 * Input: one JSON argument {url, token, plans: [{meterIds?, societyId?}]}.
 */
interface ClientPlan {
  meterIds?: string[];
  societyId?: string;
}

interface ClientsInput {
  url: string;
  token: string;
  plans: ClientPlan[];
}

interface UpdateMessage {
  type: 'update';
  readings: { ts: string }[];
  events: unknown[];
}

const input = JSON.parse(process.argv[2]) as ClientsInput;
let latenciesMs: number[] = [];
let messages = 0;
let readings = 0;
const closes = new Map<string, number>();

function record(data: WebSocket.RawData, now: number): void {
  const message = JSON.parse(data.toString()) as { type: string };
  if (message.type !== 'update') return;
  messages++;
  for (const reading of (message as UpdateMessage).readings) {
    readings++;
    latenciesMs.push(now - Date.parse(reading.ts));
  }
}

function open(plan: ClientPlan): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(input.url, { headers: { Authorization: `Bearer ${input.token}` } });
    const expected = plan.societyId ? 1 : (plan.meterIds?.length ?? 0);
    let confirmed = 0;
    socket.on('open', () => {
      if (plan.societyId) socket.send(JSON.stringify({ type: 'subscribe', societyId: plan.societyId }));
      for (const meterId of plan.meterIds ?? []) socket.send(JSON.stringify({ type: 'subscribe', meterId }));
    });
    socket.on('message', (data) => {
      const now = Date.now();
      if (confirmed < expected) {
        const message = JSON.parse(data.toString()) as { type: string };
        if (message.type === 'error') reject(new Error(`subscription refused: ${data.toString()}`));
        if (message.type === 'subscribed' && ++confirmed === expected) resolve();
        return;
      }
      record(data, now);
    });
    socket.on('close', (code, reason) => {
      const key = `${code} ${reason.toString()}`;
      closes.set(key, (closes.get(key) ?? 0) + 1);
    });
    socket.on('error', reject);
  });
}

function percentile(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function main(): Promise<void> {
  const started = Date.now();
  // In waves, so the API's accept queue and the authentication of 1,000 upgrades do not all pile up at once.
  for (let i = 0; i < input.plans.length; i += 100)
    await Promise.all(input.plans.slice(i, i + 100).map(open));
  process.stdout.write(`${JSON.stringify({ ready: input.plans.length, connectMs: Date.now() - started })}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'reset') {
      latenciesMs = [];
      messages = 0;
      readings = 0;
    } else if (line === 'report') {
      const sorted = latenciesMs.sort((a, b) => a - b);
      process.stdout.write(
        `${JSON.stringify({
          messages,
          readings,
          latencyMs: {
            p50: percentile(sorted, 0.5),
            p90: percentile(sorted, 0.9),
            p99: percentile(sorted, 0.99),
            p999: percentile(sorted, 0.999),
            max: sorted.at(-1) ?? NaN,
          },
          closes: Object.fromEntries(closes),
        })}\n`,
      );
      process.exit(0);
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`ws bench clients failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
