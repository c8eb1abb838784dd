import type { KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import type { CachedEvent, CachedReading } from '@hes/cache';
import type { MeterKey } from '@hes/keys';
import {
  ConsumedBatch,
  DeadLetterMessage,
  EventMessage,
  MESSAGE_VERSION,
  MessageValidationError,
  ReadingsMessage,
  SourceKind,
  TelegramEnvelope,
  deadLetter,
  decodeEnvelope,
} from '@hes/messaging';
import type { HesMetrics } from '@hes/metrics';
import type { MeterEvent, MeterSighting, Reading, UnknownMeterSighting, WriteResult } from '@hes/storage';
import { parseDll } from '@hes/wmbus';
import type { DecodeErrorCode } from '@hes/wmbus';
import type { DecodeTask, DecodeTaskResult, TelegramOutcome } from '../decode/decode-task';
import { packTask } from '../decode/decode-task';
import type { CompactFormatRegistry } from '../formats/format-registry';
import type { DerivedMessages } from './derived-publisher';
import type { KnownMeters } from './known-meters';
import type { MeterStatusState, StatusEventTracker, StatusTransition } from './status-events';
import { TelegramWindow } from './telegram-window';

/** Why a telegram went to the dead-letter topic. Stable: operators filter and replay by these. */
export type DeadLetterReason =
  | 'malformed'
  | 'unknown_meter'
  | 'no_key'
  | 'wrong_key_or_corrupt'
  | 'corrupt'
  | 'unknown_compact_format'
  | 'unsupported_security'
  | 'storage_rejected';

/**
 * Decoder codes → reasons. AES-CTR/CBC cannot tell a wrong key from flipped bits (both fail the 2F2F or
 * payload-CRC check), so those share one reason; a failed DLL block CRC is corruption on air.
 */
const REASON_OF_CODE: Record<DecodeErrorCode, DeadLetterReason> = {
  BAD_INPUT: 'malformed',
  BAD_C_FIELD: 'malformed',
  UNKNOWN_CI: 'malformed',
  TOO_SHORT: 'corrupt',
  BAD_LENGTH: 'corrupt',
  BAD_CRC: 'corrupt',
  TRUNCATED: 'corrupt',
  BAD_RECORD: 'corrupt',
  COMPACT_CRC_MISMATCH: 'corrupt',
  NO_KEY: 'no_key',
  DECRYPTION_FAILED: 'wrong_key_or_corrupt',
  MAC_MISMATCH: 'wrong_key_or_corrupt',
  UNEXPECTED_PLAINTEXT: 'wrong_key_or_corrupt',
  UNSUPPORTED_SECURITY: 'unsupported_security',
  UNKNOWN_COMPACT_FORMAT: 'unknown_compact_format',
};

const METER_ID = /^[0-9A-Fa-f]{8}$/;

/** Dependencies of the batch processor; each is the narrow part of a library object that it uses. */
export interface BatchProcessorDeps {
  pool: { run(task: DecodeTask): Promise<DecodeTaskResult> };
  keys: { get(meterId: string): MeterKey | undefined };
  meters: Pick<KnownMeters, 'registeredAmong'>;
  formats: Pick<CompactFormatRegistry, 'version' | 'snapshot' | 'persistLearned'>;
  readings: { write(readings: readonly Reading[]): Promise<WriteResult> };
  events: { write(events: readonly MeterEvent[]): Promise<{ inserted: number }> };
  unknownMeters: { record(sighting: UnknownMeterSighting): Promise<number> };
  eventState: { load(meterIds: readonly string[]): Promise<Map<string, MeterStatusState>> };
  /** Redis: best effort, after storage. Absent when the deployment runs without a cache. */
  cache?: {
    applyReadings(readings: CachedReading[]): Promise<unknown>;
    publishEvents(events: CachedEvent[]): Promise<void>;
  };
  publisher: { publish(messages: DerivedMessages): Promise<void> };
  /**
   * Last sighting per meter (meter_status, a MeterStatusWriter that coalesces and flushes on its own): told
   * about each decoded telegram once its readings are durable. Absent where nothing keeps meter_status.
   */
  meterStatus?: { recordAll(sightings: Iterable<MeterSighting>): void };
  tracker: StatusEventTracker;
  window: TelegramWindow;
  metrics: HesMetrics;
  logger: Logger;
  retry: { initialMs: number; maxMs: number };
}

/** The batch was given up before it was durable (shutdown or partition revoked): nothing to commit. */
export class BatchAbandonedError extends Error {
  constructor(stage: string) {
    super(`batch abandoned while ${stage}: the consumer is stopping or lost the partition`);
    this.name = 'BatchAbandonedError';
  }
}

interface Telegram {
  /** The partition batch the telegram came in. */
  batch: ConsumedBatch;
  message: KafkaMessage;
  envelope: TelegramEnvelope;
  /** Upper-case: the form meters, keys and readings use. */
  meterId: string;
  dedupKey: string;
}

/** A decoded telegram with values: its rows for storage and its message for the readings topic. */
interface StoredTelegram {
  telegram: Telegram;
  readings: Reading[];
  message: ReadingsMessage;
}

interface ReadingsWrite {
  inserted: number;
  /** Telegrams whose rows the database refused as data (not as an outage). */
  refused: Array<{ telegram: Telegram; reason: string }>;
}

/** Partition batches processed together (the partitions of one fetch): durable, or given up, as a whole. */
interface WorkUnit {
  batches: readonly ConsumedBatch[];
  /** False as soon as any of its partitions is revoked or the consumer stops. */
  isActive(): boolean;
  heartbeat(): Promise<void>;
  /** `topic/partition` of each batch, for logs. */
  partitions: string[];
}

function workUnit(batches: readonly ConsumedBatch[]): WorkUnit {
  if (batches.length === 0) throw new Error('a work unit needs at least one batch');
  return {
    batches,
    isActive: () => batches.every((b) => b.isActive()),
    // One consumer behind all of them: a single heartbeat keeps the member in the group.
    heartbeat: () => batches[0].heartbeat(),
    partitions: batches.map((b) => `${b.topic}/${b.partition}`),
  };
}

interface DeadLetterEntry {
  message: DeadLetterMessage;
  meterGroup?: string;
}

export interface BatchSummary {
  telegrams: number;
  duplicates: number;
  decoded: number;
  deadLetters: number;
  readingsInserted: number;
  events: number;
}

/**
 * Turns partition batches of raw telegram envelopes (one, or all of one fetch as one unit of work) into
 * stored readings, events, cache updates and derived messages, and returns only once all of it that must
 * be durable is durable — the caller then commits every batch of the unit. Storage and Kafka failures are
 * retried here with exponential back-off while heartbeating, so the member keeps its partitions and the
 * decoded work is not redone; only a stop or a rebalance ends the attempt (BatchAbandonedError, nothing
 * committed, the batches are redelivered). Partition order, hence per-meter order, is kept within a unit.
 *
 * Every message is accounted for: stored, dead-lettered with its reason and original bytes, or dropped as a
 * duplicate of a stored telegram. A bad message therefore never holds up the partition.
 */
export class BatchProcessor {
  constructor(private readonly deps: BatchProcessorDeps) {}

  /** One partition batch, or the batches of one fetch merged into one unit of work. */
  async process(input: ConsumedBatch | readonly ConsumedBatch[]): Promise<BatchSummary> {
    const { deps } = this;
    const batch = workUnit(Array.isArray(input) ? input : [input as ConsumedBatch]);
    const deadLetters: DeadLetterEntry[] = [];
    const { telegrams, duplicates } = this.parse(batch, deadLetters);

    const withoutKey = telegrams.filter((t) => !deps.keys.get(t.meterId)).map((t) => t.meterId);
    const registered =
      withoutKey.length === 0
        ? new Set<string>()
        : await this.retrying(batch, 'looking up meters', () => deps.meters.registeredAmong(withoutKey));
    const decodable: Telegram[] = [];
    const unknown: Telegram[] = [];
    for (const t of telegrams) {
      if (deps.keys.get(t.meterId) || registered.has(t.meterId)) decodable.push(t);
      else unknown.push(t);
    }
    const sightings = this.unknownMeterSightings(unknown, deadLetters);

    const outcomes = await this.decode(batch, decodable);
    const decodedAt = Date.now();

    const decoded: Array<{ telegram: Telegram; outcome: Extract<TelegramOutcome, { ok: true }> }> = [];
    decodable.forEach((t, i) => {
      const outcome = outcomes[i];
      if (outcome.ok) {
        decoded.push({ telegram: t, outcome });
        deps.metrics.telegramsDecoded.inc();
        const producedAt = Number(t.message.timestamp);
        if (Number.isFinite(producedAt)) deps.metrics.observeStage('kafka_to_decoded', producedAt, decodedAt);
      } else {
        this.deadLetter(t, REASON_OF_CODE[outcome.code], outcome.message, deadLetters);
      }
    });

    const decodedMeters = decoded.map((d) => d.telegram.meterId);
    const transitions = await this.statusTransitions(batch, decoded);
    const stored: StoredTelegram[] = [];
    for (const { telegram, outcome } of decoded) {
      if (outcome.values.length === 0) continue;
      const ts = new Date(telegram.envelope.receivedAt);
      stored.push({
        telegram,
        readings: outcome.values.map((v) => ({
          meterId: telegram.meterId,
          ts,
          quantity: v.quantity,
          storage: v.storage,
          tariff: v.tariff,
          unit: v.unit,
          value: v.value,
          source: telegram.envelope.sourceKind,
          quality: outcome.meterError ? 1 : 0,
        })),
        message: {
          v: MESSAGE_VERSION,
          meterId: telegram.meterId,
          meterGroup: telegram.envelope.meterGroup,
          manufacturer: telegram.envelope.manufacturer,
          ts: telegram.envelope.receivedAt,
          source: telegram.envelope.sourceKind,
          sourceId: telegram.envelope.sourceId,
          readings: outcome.values,
        },
      });
    }
    const groupOf = new Map(decoded.map((d) => [d.telegram.meterId, d.telegram.envelope.meterGroup]));
    const events: MeterEvent[] = transitions.map((e) => ({
      meterId: e.meterId,
      ts: new Date(e.ts),
      kind: e.kind,
      details: e.details,
    }));

    let write: ReadingsWrite;
    try {
      write = await this.retrying(batch, 'storing readings', async () => {
        const result = await this.storeReadings(stored);
        if (events.length > 0) {
          const stopEvents = deps.metrics.storageWriteDuration.startTimer({ table: 'events' });
          await deps.events.write(events);
          stopEvents();
        }
        for (const sighting of sightings) await deps.unknownMeters.record(sighting);
        return result;
      });
    } catch (error) {
      // The tracker already applied this batch's telegrams; the next delivery must start from storage.
      deps.tracker.forget(decodedMeters);
      throw error;
    }
    const storedAt = Date.now();
    deps.metrics.readingsStored.inc(write.inserted);
    for (const { telegram, reason } of write.refused) {
      this.deadLetter(telegram, 'storage_rejected', `storage refused the readings: ${reason}`, deadLetters);
    }
    const accepted =
      write.refused.length === 0
        ? stored
        : stored.filter((s) => !write.refused.some((r) => r.telegram === s.telegram));
    for (let i = 0; i < decoded.length; i++)
      deps.metrics.observeStage('decoded_to_stored', decodedAt, storedAt);
    const refusedTelegrams = new Set(write.refused.map((r) => r.telegram));
    deps.meterStatus?.recordAll(
      decoded
        .filter((d) => !refusedTelegrams.has(d.telegram))
        .map(({ telegram, outcome }) => sightingOf(telegram, outcome.status)),
    );

    const readingsMessages = accepted.map((s) => s.message);
    const eventMessages: EventMessage[] = transitions.map((e) => ({
      v: MESSAGE_VERSION,
      meterId: e.meterId,
      meterGroup: groupOf.get(e.meterId) ?? 'default',
      ts: e.ts,
      kind: e.kind,
      details: e.details,
    }));
    // The cache (best effort, never throws) and the derived topics (retried until acknowledged) do not
    // depend on each other: both go out at once, so a unit waits for the slower of the two, not their sum.
    const cached = this.updateCache(
      accepted.flatMap((s) => s.readings),
      decoded,
      transitions,
      groupOf,
    ).then(() => {
      const cachedAt = Date.now();
      for (let i = 0; i < decoded.length; i++)
        deps.metrics.observeStage('stored_to_cached', storedAt, cachedAt);
    });
    const published = this.retrying(batch, 'publishing derived messages', () =>
      deps.publisher.publish({ readings: readingsMessages, events: eventMessages, deadLetters }),
    );
    await Promise.all([cached, published]);
    for (const t of telegrams) deps.window.remember(t.dedupKey, t.envelope.receivedAt);

    return {
      telegrams: batch.batches.reduce((sum, b) => sum + b.messages.length, 0),
      duplicates,
      decoded: decoded.length,
      deadLetters: deadLetters.length,
      readingsInserted: write.inserted,
      events: transitions.length,
    };
  }

  /**
   * All readings of the batch in one write (one transaction). If the database refuses the data itself
   * (SQLSTATE class 22 data exception or 23 integrity violation, which no retry can cure), the telegrams are
   * written one by one and those refused are returned for the dead-letter topic, so one bad telegram cannot
   * hold up its partition. Any other error (connection, timeout) is thrown for the retry loop.
   */
  private async storeReadings(stored: StoredTelegram[]): Promise<ReadingsWrite> {
    const { readings: writer, metrics, logger } = this.deps;
    const write = async (readings: Reading[]) => {
      const stopTimer = metrics.storageWriteDuration.startTimer({ table: 'readings' });
      const result = await writer.write(readings);
      stopTimer();
      for (const rejected of result.rejected) {
        const reading = readings[rejected.index];
        logger.warn(
          { meterId: reading.meterId, field: rejected.field, reason: rejected.reason },
          'reading rejected by storage validation',
        );
      }
      return result.inserted;
    };
    try {
      return { inserted: await write(stored.flatMap((s) => s.readings)), refused: [] };
    } catch (error) {
      if (!isRefusedData(error)) throw error;
    }
    let inserted = 0;
    const refused: ReadingsWrite['refused'] = [];
    for (const s of stored) {
      try {
        inserted += await write(s.readings);
      } catch (error) {
        if (!isRefusedData(error)) throw error;
        refused.push({ telegram: s.telegram, reason: (error as Error).message });
      }
    }
    return { inserted, refused };
  }

  /** Envelopes → telegrams to process; malformed ones are dead-lettered, duplicates dropped and counted. */
  private parse(
    unit: WorkUnit,
    deadLetters: DeadLetterEntry[],
  ): { telegrams: Telegram[]; duplicates: number } {
    const telegrams: Telegram[] = [];
    const inUnit = new TelegramWindow(this.deps.window.windowMs, Number.MAX_SAFE_INTEGER);
    let duplicates = 0;
    for (const batch of unit.batches) duplicates += this.parseBatch(batch, inUnit, telegrams, deadLetters);
    return { telegrams, duplicates };
  }

  /** Appends the batch's telegrams to `telegrams`; returns how many duplicates it dropped. */
  private parseBatch(
    batch: ConsumedBatch,
    inUnit: TelegramWindow,
    telegrams: Telegram[],
    deadLetters: DeadLetterEntry[],
  ): number {
    let duplicates = 0;
    for (const message of batch.messages) {
      if (!message.value || message.value.length === 0) {
        deadLetters.push({
          message: deadLetter({
            reasonCode: 'malformed',
            message: 'empty message: no envelope',
            field: 'envelope',
            source: { kind: 'gateway', id: 'unknown' },
            origin: { topic: batch.topic, partition: batch.partition, offset: message.offset },
            original: Buffer.alloc(0),
          }),
        });
        this.deps.metrics.telegramsFailed.inc({ reason: 'malformed' });
        continue;
      }
      let envelope: TelegramEnvelope;
      try {
        envelope = decodeEnvelope(message.value);
        if (!METER_ID.test(envelope.meterId)) {
          throw new MessageValidationError('meterId', `must be 8 hex digits, got "${envelope.meterId}"`);
        }
      } catch (error) {
        const invalid = error instanceof MessageValidationError ? error : undefined;
        deadLetters.push({
          message: deadLetter({
            reasonCode: 'malformed',
            message: `envelope cannot be decoded: ${invalid?.message ?? String(error)}`,
            field: invalid?.field,
            source: { kind: sourceKindOf(message.value), id: 'unknown' },
            origin: { topic: batch.topic, partition: batch.partition, offset: message.offset },
            original: message.value,
          }),
        });
        this.deps.metrics.telegramsFailed.inc({ reason: 'malformed' });
        continue;
      }
      const meterId = envelope.meterId.toUpperCase();
      const dedupKey = TelegramWindow.keyOf(meterId, envelope.telegram);
      if (
        this.deps.window.isDuplicate(dedupKey, envelope.receivedAt) ||
        inUnit.isDuplicate(dedupKey, envelope.receivedAt)
      ) {
        duplicates += 1;
        this.deps.metrics.duplicatesDropped.inc({ source: envelope.sourceKind });
        continue;
      }
      inUnit.remember(dedupKey, envelope.receivedAt);
      telegrams.push({ batch, message, envelope, meterId, dedupKey });
    }
    return duplicates;
  }

  /** Telegrams of meters without a registry row: dead-lettered, and one sighting per meter for operators. */
  private unknownMeterSightings(unknown: Telegram[], deadLetters: DeadLetterEntry[]): UnknownMeterSighting[] {
    const latest = new Map<string, UnknownMeterSighting>();
    for (const t of unknown) {
      const dll = parseDll(t.envelope.telegram);
      if (!dll.ok) {
        this.deadLetter(t, 'malformed', `unregistered meter, and ${dll.error.message}`, deadLetters);
        continue;
      }
      this.deadLetter(t, 'unknown_meter', `meter ${t.meterId} is not registered`, deadLetters);
      const sighting: UnknownMeterSighting = {
        meterId: t.meterId,
        manufacturer: dll.dll.manufacturer,
        deviceType: dll.dll.deviceType,
        version: dll.dll.version,
        heardAt: new Date(t.envelope.receivedAt),
        source: t.envelope.sourceKind,
        gatewayId: t.envelope.sourceId,
      };
      if (t.envelope.signal !== undefined) sighting.rssiDbm = t.envelope.signal;
      const previous = latest.get(t.meterId);
      if (!previous || previous.heardAt <= sighting.heardAt) latest.set(t.meterId, sighting);
    }
    return [...latest.values()];
  }

  /**
   * One pool task for the batch. Formats learned by the task are persisted and merged before anything is
   * stored; compact frames that failed only because their format was learned meanwhile (by this task or
   * another partition's) are decoded once more with the new formats.
   */
  private async decode(batch: WorkUnit, telegrams: Telegram[]): Promise<TelegramOutcome[]> {
    if (telegrams.length === 0) return [];
    const { outcomes, formatsVersion } = await this.runTask(batch, telegrams);
    const retry = outcomes
      .map((outcome, i) => (!outcome.ok && outcome.code === 'UNKNOWN_COMPACT_FORMAT' ? i : -1))
      .filter((i) => i >= 0);
    // Compared with the version this task was given, not a processor-wide "latest task" (which a concurrent
    // unit may have moved on): a format learned meanwhile anywhere earns the frames a second attempt.
    if (retry.length > 0 && formatsVersion !== this.deps.formats.version) {
      const again = await this.runTask(
        batch,
        retry.map((i) => telegrams[i]),
      );
      retry.forEach((index, j) => (outcomes[index] = again.outcomes[j]));
    }
    return outcomes;
  }

  private async runTask(
    batch: WorkUnit,
    telegrams: Telegram[],
  ): Promise<{ outcomes: TelegramOutcome[]; formatsVersion: number }> {
    const { deps } = this;
    const version = deps.formats.version;
    const items = telegrams.map((t) => ({
      telegram: t.envelope.telegram,
      key: deps.keys.get(t.meterId)?.material(),
    }));
    const task = packTask(items, version, deps.formats.snapshot());
    // The task holds its own copy (transferred to the worker, which wipes it): do not leave these around.
    for (const item of items) item.key?.fill(0);
    const result = await deps.pool.run(task);
    if (result.learned.length > 0) {
      const added = await this.retrying(batch, 'persisting learned compact formats', () =>
        deps.formats.persistLearned(result.learned),
      );
      if (added > 0) deps.logger.info({ added }, 'learned compact-frame formats persisted');
    }
    return { outcomes: result.outcomes, formatsVersion: version };
  }

  /** Primes the tracker from storage for meters it does not hold, then applies the telegrams in order. */
  private async statusTransitions(
    batch: WorkUnit,
    decoded: Array<{ telegram: Telegram; outcome: { status: string } }>,
  ): Promise<StatusTransition[]> {
    const { tracker, eventState } = this.deps;
    const missing = tracker.unknown(decoded.map((d) => d.telegram.meterId));
    if (missing.length > 0) {
      const states = await this.retrying(batch, 'loading meter status', () => eventState.load(missing));
      for (const [meterId, state] of states) tracker.prime(meterId, state);
    }
    return decoded.flatMap(({ telegram, outcome }) =>
      tracker.observe(telegram.meterId, telegram.envelope.receivedAt, outcome.status),
    );
  }

  /** Redis is a cache: a failure is counted (by the cache's onMiss) and logged, never retried here. */
  private async updateCache(
    readings: Reading[],
    decoded: Array<{ telegram: Telegram }>,
    transitions: StatusTransition[],
    groupOf: Map<string, string>,
  ): Promise<void> {
    const { cache, logger } = this.deps;
    if (!cache || decoded.length === 0) return;
    const cached: CachedReading[] = readings.map((r) => ({
      meterId: r.meterId,
      meterGroup: groupOf.get(r.meterId) ?? 'default',
      quantity: r.quantity,
      storage: r.storage,
      tariff: r.tariff,
      unit: r.unit,
      value: r.value,
      ts: r.ts.getTime(),
    }));
    try {
      await cache.applyReadings(cached);
      if (transitions.length > 0) {
        await cache.publishEvents(
          transitions.map((e) => ({
            meterId: e.meterId,
            meterGroup: groupOf.get(e.meterId) ?? 'default',
            kind: e.kind,
            ts: e.ts,
            details: e.details,
          })),
        );
      }
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'cache update failed; readings are stored');
    }
  }

  private deadLetter(
    t: Telegram,
    reason: DeadLetterReason,
    description: string,
    deadLetters: DeadLetterEntry[],
  ): void {
    this.deps.metrics.telegramsFailed.inc({ reason });
    deadLetters.push({
      meterGroup: t.envelope.meterGroup,
      message: deadLetter({
        reasonCode: reason,
        message: description,
        source: { kind: t.envelope.sourceKind, id: t.envelope.sourceId },
        meterId: t.meterId,
        origin: { topic: t.batch.topic, partition: t.batch.partition, offset: t.message.offset },
        original: t.message.value as Buffer,
      }),
    });
  }

  /**
   * Runs `operation` until it succeeds, backing off exponentially and heartbeating meanwhile. Gives up only
   * when the consumer stops or loses the partition, or when a heartbeat reports a rebalance.
   */
  private async retrying<T>(batch: WorkUnit, stage: string, operation: () => Promise<T>): Promise<T> {
    const { retry, logger } = this.deps;
    for (let attempt = 1; ; attempt++) {
      try {
        return await operation();
      } catch (error) {
        if (!batch.isActive()) throw new BatchAbandonedError(stage);
        const delayMs = Math.min(retry.maxMs, retry.initialMs * 2 ** (attempt - 1));
        logger.warn(
          {
            partitions: batch.partitions,
            stage,
            attempt,
            retryInMs: delayMs,
            err: (error as Error).message,
          },
          'batch step failed; retrying',
        );
        await this.wait(batch, stage, delayMs);
      }
    }
  }

  private async wait(batch: WorkUnit, stage: string, delayMs: number): Promise<void> {
    const until = Date.now() + delayMs;
    while (Date.now() < until) {
      if (!batch.isActive()) throw new BatchAbandonedError(stage);
      await batch.heartbeat();
      await new Promise((resolve) => setTimeout(resolve, Math.min(HEARTBEAT_SLICE_MS, until - Date.now())));
    }
  }
}

/** Sleep slice between heartbeats while backing off: well under any session timeout in use. */
const HEARTBEAT_SLICE_MS = 250;

/** A stored telegram as a meter_status sighting; "OK" is what the drivers report when no flag is set. */
function sightingOf(telegram: Telegram, status: string): MeterSighting {
  return {
    meterId: telegram.meterId,
    seenAt: new Date(telegram.envelope.receivedAt),
    rssiDbm: telegram.envelope.signal ?? null,
    source: telegram.envelope.sourceKind,
    gatewayId: telegram.envelope.sourceId,
    statusFlags: status.split(' ').filter((flag) => flag !== '' && flag !== 'OK'),
  };
}

/** PostgreSQL refused the data itself: class 22 (data exception) or 23 (integrity constraint violation). */
function isRefusedData(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/** Best-effort source kind of an envelope that failed to decode (its second byte), for the dead letter. */
function sourceKindOf(bytes: Buffer): SourceKind {
  const kinds: SourceKind[] = ['gateway', 'handheld', 'mqtt'];
  return kinds[bytes[1]] ?? 'gateway';
}
