import type { KafkaMessage } from 'kafkajs';
import pino from 'pino';
import { MeterKey } from '@hes/keys';
import { ConsumedBatch, TelegramEnvelope, encodeEnvelope } from '@hes/messaging';
import { HesMetrics } from '@hes/metrics';
import type { Reading, WriteResult } from '@hes/storage';
import { kamstrupTelegram, meterKey } from '../../test/telegrams';
import { TaskDecoder } from '../decode/decode-task';
import { CompactFormatRegistry } from '../formats/format-registry';
import { BatchAbandonedError, BatchProcessor, BatchProcessorDeps } from './batch-processor';
import type { DerivedMessages } from './derived-publisher';
import { StatusEventTracker } from './status-events';
import { TelegramWindow } from './telegram-window';

/**
 * The batch processor with the real decoder (run in-process instead of in a worker), tracker, window and
 * format registry, and in-memory stand-ins for PostgreSQL and Kafka whose failures the tests script. The
 * integration tests cover the same paths against the real services; these pin the decisions exactly.
 */
const KEY = meterKey(5);
const T0 = Date.UTC(2026, 10, 23, 12);
const METERS = ['B0000001', 'B0000002'];

class ScriptedReadings {
  readonly rows = new Map<string, Reading>();
  calls = 0;
  /** Errors to throw, in order, before writing normally. */
  failures: Error[] = [];
  /** Meter whose rows the "database" refuses as data (SQLSTATE 22003). */
  refuseMeter: string | undefined;

  async write(readings: readonly Reading[]): Promise<WriteResult> {
    this.calls += 1;
    const failure = this.failures.shift();
    if (failure) throw failure;
    if (this.refuseMeter && readings.some((r) => r.meterId === this.refuseMeter)) {
      throw Object.assign(new Error('numeric field overflow'), { code: '22003' });
    }
    let inserted = 0;
    for (const r of readings) {
      const key = `${r.meterId}|${r.quantity}|${r.storage}|${r.tariff}|${r.ts.getTime()}`;
      if (!this.rows.has(key)) {
        this.rows.set(key, r);
        inserted += 1;
      }
    }
    return { inserted, duplicates: readings.length - inserted, rejected: [] };
  }
}

function setup() {
  const readings = new ScriptedReadings();
  const published: DerivedMessages[] = [];
  const decoder = new TaskDecoder();
  const keys = new Map(METERS.map((id) => [id, new MeterKey(id, KEY, 'fp', new Date(0))]));
  const deps: BatchProcessorDeps = {
    pool: { run: async (task) => decoder.decode(task) },
    keys,
    meters: { registeredAmong: async () => new Set<string>() },
    formats: new CompactFormatRegistry({ loadAll: async () => [], save: async () => true }, () => undefined),
    readings,
    events: { write: async (events) => ({ inserted: events.length }) },
    unknownMeters: { record: async () => 1 },
    eventState: {
      load: async (ids) =>
        new Map(ids.map((id) => [id, { seen: false, active: new Set(), asOf: -Infinity }])),
    },
    publisher: { publish: async (messages) => void published.push(messages) },
    tracker: new StatusEventTracker(),
    window: new TelegramWindow(60_000, 1000),
    metrics: new HesMetrics({ app: 'decryptor', defaultMetrics: false }),
    logger: pino({ level: 'silent' }),
    retry: { initialMs: 5, maxMs: 20 },
  };
  return { deps, readings, published, processor: new BatchProcessor(deps) };
}

let offset = 0;
function message(meterId: string, step: number, receivedAt = T0 + step * 16_000): KafkaMessage {
  const envelope: TelegramEnvelope = {
    sourceKind: 'gateway',
    sourceId: 'gw',
    receivedAt,
    telegram: kamstrupTelegram({ meterId, key: KEY, volumeM3: 1 + step / 1000, accessNumber: step }),
    meterId,
    manufacturer: 'KAM',
    meterGroup: 'g',
  };
  return {
    key: Buffer.from(meterId),
    value: encodeEnvelope(envelope),
    offset: String(offset++),
    timestamp: String(Date.now()),
    attributes: 0,
    headers: {},
  };
}

function batch(messages: KafkaMessage[], active: () => boolean = () => true, partition = 0) {
  let heartbeats = 0;
  const consumed: ConsumedBatch = {
    topic: 'raw',
    partition,
    messages,
    highWatermark: String(offset),
    heartbeat: async () => {
      heartbeats += 1;
    },
    isActive: active,
  };
  return { consumed, heartbeats: () => heartbeats };
}

describe('BatchProcessor', () => {
  it('retries a failing storage write while heartbeating and then stores and publishes once', async () => {
    const { processor, readings, published } = setup();
    readings.failures = [new Error('connect ECONNREFUSED'), new Error('Connection terminated unexpectedly')];
    const b = batch([message(METERS[0], 1), message(METERS[1], 1)]);
    const summary = await processor.process(b.consumed);
    expect(readings.calls).toBe(3);
    expect(b.heartbeats()).toBeGreaterThan(0);
    expect(summary).toMatchObject({ decoded: 2, deadLetters: 0, readingsInserted: 8 });
    expect(published).toHaveLength(1);
    expect(published[0].readings.map((r) => r.meterId)).toEqual(METERS);
  });

  it('dead-letters the telegram the database refuses as data and stores the rest of the batch', async () => {
    const { processor, readings, published } = setup();
    readings.refuseMeter = METERS[1];
    const summary = await processor.process(batch([message(METERS[0], 1), message(METERS[1], 1)]).consumed);
    expect(summary).toMatchObject({ decoded: 2, deadLetters: 1, readingsInserted: 4 });
    expect([...readings.rows.values()].every((r) => r.meterId === METERS[0])).toBe(true);
    expect(published[0].readings.map((r) => r.meterId)).toEqual([METERS[0]]);
    expect(published[0].deadLetters.map((d) => [d.message.meterId, d.message.reasonCode])).toEqual([
      [METERS[1], 'storage_rejected'],
    ]);
  });

  it('gives up a batch when the consumer stops, forgetting its status state and its telegrams', async () => {
    const { processor, readings, deps } = setup();
    readings.failures = Array.from({ length: 100 }, () => new Error('database down'));
    let active = true;
    setTimeout(() => (active = false), 50);
    const first = message(METERS[0], 1);
    await expect(processor.process(batch([first], () => active).consumed)).rejects.toBeInstanceOf(
      BatchAbandonedError,
    );
    expect(deps.tracker.unknown([METERS[0]])).toEqual([METERS[0]]);

    // Redelivered: not mistaken for a duplicate of itself, stored, and first_seen raised again (idempotent key).
    readings.failures = [];
    const again = await processor.process(batch([{ ...first, offset: String(offset++) }]).consumed);
    expect(again).toMatchObject({ duplicates: 0, decoded: 1, readingsInserted: 4, events: 1 });
  });

  it('drops a telegram heard again by another gateway, within the batch and in later batches', async () => {
    const { processor, readings } = setup();
    const original = message(METERS[0], 3);
    const envelopeBytes = original.value as Buffer;
    const copyAt = (ms: number) => {
      const copy = Buffer.from(envelopeBytes);
      copy.writeDoubleBE(T0 + 3 * 16_000 + ms, 3);
      return { ...original, value: copy, offset: String(offset++) } as KafkaMessage;
    };
    const first = await processor.process(batch([original, copyAt(400)]).consumed);
    const later = await processor.process(batch([copyAt(900), message(METERS[0], 4)]).consumed);
    expect(first).toMatchObject({ duplicates: 1, decoded: 1 });
    expect(later).toMatchObject({ duplicates: 1, decoded: 1 });
    expect(readings.rows.size).toBe(8);
  });

  it('handles the batches of several partitions as one unit: one decode, one write, one publish', async () => {
    const { processor, readings, published, deps } = setup();
    const tasks: number[] = [];
    const decode = deps.pool.run;
    deps.pool = { run: async (task) => (tasks.push(task.ends.length), decode(task)) };
    const malformed: KafkaMessage = { ...message(METERS[0], 7), value: Buffer.from([9, 9]), offset: '41' };
    const summary = await processor.process([
      batch([message(METERS[0], 1), message(METERS[0], 2)], () => true, 0).consumed,
      batch([message(METERS[1], 1), malformed], () => true, 5).consumed,
    ]);
    expect(summary).toMatchObject({ telegrams: 4, decoded: 3, deadLetters: 1, readingsInserted: 12 });
    expect(tasks).toEqual([3]);
    expect(readings.calls).toBe(1);
    expect(published).toHaveLength(1);
    expect(published[0].readings.map((r) => r.meterId)).toEqual([METERS[0], METERS[0], METERS[1]]);
    // A dead letter names the partition its message came from, not the unit's first.
    expect(published[0].deadLetters.map((d) => [d.message.origin, d.message.reasonCode])).toEqual([
      [{ topic: 'raw', partition: 5, offset: '41' }, 'malformed'],
    ]);
  });

  it('gives up the whole unit when any of its partitions is revoked', async () => {
    const { processor, readings } = setup();
    readings.failures = Array.from({ length: 100 }, () => new Error('database down'));
    let revoked = false;
    setTimeout(() => (revoked = true), 50);
    await expect(
      processor.process([
        batch([message(METERS[0], 1)]).consumed,
        batch([message(METERS[1], 1)], () => !revoked, 1).consumed,
      ]),
    ).rejects.toBeInstanceOf(BatchAbandonedError);
    expect(readings.rows.size).toBe(0);
  });
});
