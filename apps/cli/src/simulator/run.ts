import { DuplicateScheduler } from './duplicates';
import type { Fleet } from './fleet';
import { TelegramGenerator } from './generator';
import { SeededRandom } from './random';
import { SimulationTally } from './tally';
import { TokenBucket } from './token-bucket';
import type { SimGateway, Transport } from './transport';
import type { WireItem } from './wire-item';

export interface SimulationOptions {
  fleet: Fleet;
  gateways: SimGateway[];
  transport: Transport;
  tally: SimulationTally;
  /** Items per second on the wire (originals and duplicate copies); undefined = the fleet's own schedule in real time. */
  rate?: number;
  /** Fraction of originals that a second gateway also delivers. */
  duplicates: number;
  /** Stop generating after this many wall-clock seconds. */
  durationSeconds?: number;
  /** Stop after this many original telegrams. */
  count?: number;
  /** Items per request / MQTT message. */
  batchSize: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** A partly filled batch is sent once its first item has waited this long. */
  flushMs: number;
  progressIntervalMs: number;
  onProgress(line: string): void;
  signal?: AbortSignal;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface SimulationSummary {
  seed: number;
  meters: number;
  groups: number;
  gateways: number;
  transport: string;
  targetRate: number | 'real-time';
  elapsedSeconds: number;
  generated: number;
  sent: number;
  originalsSent: number;
  duplicateCopiesSent: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  rejectReasons: Record<string, number>;
  published: number;
  uniqueAccepted: number;
  acceptedMoreThanOnce: number;
  expectedReadings: number;
  readingsPerTelegram: Record<string, number>;
  achievedRate: number;
  requests: number;
  throttled429: number;
  unavailable503: number;
  retries: number;
  failedRequests: number;
  itemsNotDelivered: number;
  errors: string[];
  stoppedBy: 'count' | 'duration' | 'signal';
}

/** Wall-clock granularity of the send loop. */
const TICK_MS = 10;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Drives the fleet: takes telegrams from the generator (paced by the token bucket, or by the fleet's own
 * schedule in real time), adds gateway duplicates, batches per gateway and sends with bounded concurrency.
 * When all request slots are busy the loop waits, so a slow collector slows the generator instead of
 * growing a queue. Ends on count, duration or the abort signal, then drains duplicates, pending batches
 * and requests in flight before returning the summary.
 */
export async function runSimulation(options: SimulationOptions): Promise<SimulationSummary> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const { tally, transport, gateways, fleet } = options;
  const started = now();
  const generator = new TelegramGenerator(fleet, started);
  const duplicates = new DuplicateScheduler(options.duplicates, gateways.length, fleet.options.seed ^ 0x5eed);
  const radio = new SeededRandom(fleet.options.seed ^ 0x4ad10);
  const bucket =
    options.rate === undefined
      ? undefined
      : new TokenBucket(options.rate, Math.max(options.batchSize, options.rate / 4), started);
  const lastReceivedAt = new Float64Array(fleet.meters.length);
  const pending: WireItem[][] = gateways.map(() => []);
  const pendingSince: number[] = gateways.map(() => 0);
  const inFlight = new Set<Promise<void>>();
  let fatal: Error | undefined;
  let lastProgress = started;
  let lastProgressSent = 0;

  const dispatch = async (gateway: number): Promise<void> => {
    const items = pending[gateway];
    if (items.length === 0) return;
    pending[gateway] = [];
    while (inFlight.size >= options.concurrency) await Promise.race(inFlight);
    for (const item of items) tally.itemSent(item);
    const request = transport.send(gateways[gateway], items).catch((error: Error) => {
      fatal ??= error;
    });
    const tracked = request.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };

  const enqueue = async (item: WireItem, at: number): Promise<void> => {
    const queue = pending[item.gateway];
    if (queue.length === 0) pendingSince[item.gateway] = at;
    queue.push(item);
    if (queue.length >= options.batchSize) await dispatch(item.gateway);
  };

  const progress = (at: number): void => {
    const seconds = (at - started) / 1000;
    const rate = ((tally.sent - lastProgressSent) * 1000) / Math.max(1, at - lastProgress);
    lastProgress = at;
    lastProgressSent = tally.sent;
    options.onProgress(
      `simulate: ${seconds.toFixed(1)}s sent ${tally.sent} (duplicate copies ${tally.duplicateCopiesSent}) ` +
        (transport.name === 'http'
          ? `accepted ${tally.accepted} duplicates ${tally.duplicates} rejected ${tally.rejected} `
          : `published ${tally.published} `) +
        `throttled ${tally.throttled429 + tally.unavailable503} not-delivered ${tally.itemsNotDelivered} ` +
        `rate ${Math.round(rate)}/s`,
    );
  };

  const deadline =
    options.durationSeconds === undefined ? Infinity : started + options.durationSeconds * 1000;
  let stoppedBy: SimulationSummary['stoppedBy'] = 'duration';
  while (fatal === undefined) {
    const tickStart = now();
    if (options.signal?.aborted) {
      stoppedBy = 'signal';
      break;
    }
    if (tickStart >= deadline) break;
    if (options.count !== undefined && generator.produced >= options.count) {
      stoppedBy = 'count';
      break;
    }
    const remaining = options.count === undefined ? Infinity : options.count - generator.produced;
    let budget = bucket ? bucket.take(options.batchSize * options.concurrency, tickStart) : Infinity;
    // Duplicates first: their ~1 s window matters more than an original's exact send time.
    const dueCopies = duplicates.takeDue(tickStart, budget);
    budget -= dueCopies.length;
    for (const copy of dueCopies) await enqueue(copy, tickStart);

    const originals = Math.min(budget, remaining);
    for (let i = 0; i < originals; i++) {
      if (!bucket && generator.nextTime > tickStart) break;
      const telegram = generator.next();
      tally.generated++;
      const meter = telegram.meter;
      const at = bucket ? now() : telegram.time;
      const receivedAt = Math.max(Math.floor(at), lastReceivedAt[meter.index] + 1);
      lastReceivedAt[meter.index] = receivedAt;
      const item: WireItem = {
        sequence: telegram.sequence,
        readings: telegram.readings,
        hex: telegram.bytes.toString('hex'),
        receivedAt,
        rssi: radio.int(-105, -60),
        gateway: meter.index % gateways.length,
        duplicate: false,
      };
      duplicates.consider(item, tickStart);
      await enqueue(item, tickStart);
    }

    const after = now();
    for (let g = 0; g < gateways.length; g++) {
      if (pending[g].length > 0 && after - pendingSince[g] >= options.flushMs) await dispatch(g);
    }
    if (after - lastProgress >= options.progressIntervalMs) progress(after);
    const elapsed = now() - tickStart;
    if (elapsed < TICK_MS) await sleep(TICK_MS - elapsed);
  }

  // Drain: copies of telegrams already sent still go out (a gateway that heard one delivers it).
  for (const copy of duplicates.takeAll()) await enqueue(copy, now());
  for (let g = 0; g < gateways.length; g++) await dispatch(g);
  while (inFlight.size > 0) await Promise.race(inFlight);
  const end = now();
  progress(end);
  if (fatal) throw fatal;

  const elapsedSeconds = (end - started) / 1000;
  return {
    seed: fleet.options.seed,
    meters: fleet.meters.length,
    groups: fleet.options.groups,
    gateways: gateways.length,
    transport: transport.name,
    targetRate: options.rate ?? 'real-time',
    elapsedSeconds,
    generated: tally.generated,
    sent: tally.sent,
    originalsSent: tally.originalsSent,
    duplicateCopiesSent: tally.duplicateCopiesSent,
    accepted: tally.accepted,
    duplicates: tally.duplicates,
    rejected: tally.rejected,
    rejectReasons: tally.rejectReasons,
    published: tally.published,
    uniqueAccepted: tally.uniqueAccepted,
    acceptedMoreThanOnce: tally.acceptedMoreThanOnce,
    expectedReadings: tally.expectedReadings,
    readingsPerTelegram: generator.readings.templates(),
    achievedRate: tally.sent / Math.max(elapsedSeconds, 1e-3),
    requests: tally.requests,
    throttled429: tally.throttled429,
    unavailable503: tally.unavailable503,
    retries: tally.retries,
    failedRequests: tally.failedRequests,
    itemsNotDelivered: tally.itemsNotDelivered,
    errors: tally.errors,
    stoppedBy,
  };
}
