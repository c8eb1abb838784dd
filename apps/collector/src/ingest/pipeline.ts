import {
  BrokerUnavailableError,
  type GpsPosition,
  type SourceKind,
  type TelegramEnvelope,
} from '@hes/messaging';
import type { InFlightLimiter } from './admission';
import { telegramFingerprint, type TelegramDeduplicator } from './dedup';
import { checkFrame, type FrameInfo } from './frame-check';
import { MeterRegistryUnavailableError, type MeterGroupResolver } from './meter-groups';
import {
  parseTelegramItem,
  type ItemParse,
  type ItemParseOptions,
  type RejectReason,
  type TelegramItem,
} from './telegram-item';

export type ItemStatus = 'accepted' | 'duplicate' | 'rejected';

export interface ItemResult {
  index: number;
  status: ItemStatus;
  reason?: RejectReason;
}

/** Where a batch came from; copied into every envelope. */
export interface IngestSource {
  kind: SourceKind;
  id: string;
  scanSessionId?: string;
  uploadId?: string;
  gps?: GpsPosition;
  /** Gateways may only send for themselves: an item naming another gateway is rejected. */
  gatewayIdMustMatch?: boolean;
  /**
   * Set for a society API key: telegrams of meters registered outside this society are rejected, so one
   * tenant cannot feed readings into another's meters. Meters not registered anywhere are taken (they become
   * unknown meters for a platform admin to register).
   */
  societyId?: string;
}

/** Which meters are registered outside a society (in another one, or in none). */
export interface MeterSocietySource {
  registeredOutside(societyId: string, meterIds: readonly string[]): Promise<ReadonlySet<string>>;
}

/** Produces envelopes and resolves only once the broker durably acknowledged all of them. */
export interface EnvelopeSink {
  send(envelopes: readonly TelegramEnvelope[]): Promise<void>;
}

export interface IngestObserver {
  received(source: SourceKind, count: number): void;
  duplicates(source: SourceKind, count: number): void;
  rejected(source: SourceKind, code: string): void;
  produced(source: SourceKind, count: number, ingestToKafkaSeconds: number): void;
}

/** The collector holds as much unacknowledged data as it may: the caller answers 429. */
export class CollectorOverloadedError extends Error {
  constructor() {
    super('too many telegrams waiting for the broker; retry shortly');
    this.name = 'CollectorOverloadedError';
  }
}

export interface IngestPipelineDeps {
  sink: EnvelopeSink;
  groups: MeterGroupResolver;
  dedup: TelegramDeduplicator;
  limiter: InFlightLimiter;
  observer: IngestObserver;
  meterSocieties: MeterSocietySource;
  itemOptions: Omit<ItemParseOptions, 'now'>;
  now?: () => number;
}

interface Candidate {
  /** Position in the batch. */
  slot: number;
  envelope: Omit<TelegramEnvelope, 'meterGroup'>;
  fingerprint: string;
  status: 'accepted' | 'duplicate';
}

/**
 * Validate → dedup → meter group → envelope → Kafka (acks from all in-sync replicas). Per-item
 * problems become per-item results; only conditions that make the whole batch unstorable throw
 * (CollectorOverloadedError, BrokerUnavailableError, MeterRegistryUnavailableError), and then no
 * item of the batch is reported accepted and none is remembered as seen, so a retry is safe.
 */
export class IngestPipeline {
  private readonly now: () => number;

  constructor(private readonly deps: IngestPipelineDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Items in the shared JSON schema (objects or bare telegram strings). */
  ingestItems(inputs: readonly unknown[], source: IngestSource, firstIndex = 0): Promise<ItemResult[]> {
    const options = { ...this.deps.itemOptions, now: this.now() };
    return this.ingestParsed(
      inputs.map((input) => parseTelegramItem(input, options)),
      source,
      firstIndex,
    );
  }

  parseItem(input: unknown, now = this.now()): ItemParse {
    return parseTelegramItem(input, { ...this.deps.itemOptions, now });
  }

  async ingestParsed(
    parsed: readonly ItemParse[],
    source: IngestSource,
    firstIndex = 0,
  ): Promise<ItemResult[]> {
    const { observer } = this.deps;
    const now = this.now();
    observer.received(source.kind, parsed.length);
    const results: ItemResult[] = new Array(parsed.length);
    let candidates: Candidate[] = [];

    parsed.forEach((entry, i) => {
      const index = firstIndex + i;
      const checked = this.check(entry, source);
      if (!checked.ok) {
        results[i] = { index, status: 'rejected', reason: checked.reason };
        observer.rejected(source.kind, checked.reason.code);
        return;
      }
      const { item, frame } = checked;
      candidates.push({
        slot: i,
        status: 'accepted',
        fingerprint: telegramFingerprint(frame.dedupBytes),
        envelope: {
          sourceKind: source.kind,
          sourceId: source.id,
          receivedAt: item.receivedAt?.getTime() ?? now,
          telegram: item.telegram,
          meterId: frame.meterId,
          manufacturer: frame.manufacturer,
          ...(item.rssi !== undefined ? { signal: item.rssi } : {}),
          ...(source.scanSessionId !== undefined ? { scanSessionId: source.scanSessionId } : {}),
          ...(source.uploadId !== undefined ? { uploadId: source.uploadId } : {}),
          ...(source.gps !== undefined ? { gps: source.gps } : {}),
        },
      });
    });
    if (source.societyId !== undefined && candidates.length > 0) {
      candidates = await this.withinSociety(candidates, source.societyId, results, firstIndex, source);
    }
    if (candidates.length === 0) return results;

    const bytes = candidates.reduce((sum, candidate) => sum + candidate.envelope.telegram.length, 0);
    const ticket = this.deps.limiter.tryAcquire(candidates.length, bytes);
    if (!ticket) throw new CollectorOverloadedError();
    try {
      await this.produce(candidates, source, now);
    } finally {
      ticket.release();
    }
    for (const { slot, status } of candidates) results[slot] = { index: firstIndex + slot, status };
    return results;
  }

  private check(
    entry: ItemParse,
    source: IngestSource,
  ): { ok: true; item: TelegramItem; frame: FrameInfo } | { ok: false; reason: RejectReason } {
    if (!entry.ok) return entry;
    const { gatewayId } = entry.item;
    if (source.gatewayIdMustMatch && gatewayId !== undefined && gatewayId !== source.id) {
      return {
        ok: false,
        reason: {
          code: 'GATEWAY_MISMATCH',
          message: `gatewayId '${gatewayId}' is not the authenticated gateway`,
          field: 'gatewayId',
        },
      };
    }
    const frame = checkFrame(entry.item.telegram);
    return frame.ok ? { ok: true, item: entry.item, frame } : { ok: false, reason: frame.reason };
  }

  /** The candidates whose meter may be fed by the society's key; the others are rejected in `results`. */
  private async withinSociety(
    candidates: Candidate[],
    societyId: string,
    results: ItemResult[],
    firstIndex: number,
    source: IngestSource,
  ): Promise<Candidate[]> {
    let outside: ReadonlySet<string>;
    try {
      outside = await this.deps.meterSocieties.registeredOutside(
        societyId,
        candidates.map((candidate) => candidate.envelope.meterId),
      );
    } catch (error) {
      throw new MeterRegistryUnavailableError(
        { cause: error },
        "meter registry unavailable: cannot check the meters against the key's society",
      );
    }
    if (outside.size === 0) return candidates;
    return candidates.filter((candidate) => {
      const { meterId } = candidate.envelope;
      if (!outside.has(meterId)) return true;
      const reason: RejectReason = {
        code: 'METER_NOT_IN_SOCIETY',
        message: `meter ${meterId} is registered outside the API key's society`,
        field: 'telegram',
      };
      results[candidate.slot] = { index: firstIndex + candidate.slot, status: 'rejected', reason };
      this.deps.observer.rejected(source.kind, reason.code);
      return false;
    });
  }

  /** Sets each candidate's status; throws (after undoing its dedup claims) when the batch was not stored. */
  private async produce(candidates: Candidate[], source: IngestSource, startedAt: number): Promise<void> {
    const { dedup, observer } = this.deps;
    const fresh: Candidate[] = [];
    const waiting: Array<Promise<boolean>> = [];
    for (const candidate of candidates) {
      const claim = dedup.claim(candidate.fingerprint);
      if (claim.status === 'new') {
        fresh.push(candidate);
      } else {
        candidate.status = 'duplicate';
        if (claim.status === 'pending') waiting.push(claim.stored);
      }
    }

    if (fresh.length > 0) {
      try {
        const groups = await this.deps.groups.resolve(fresh.map((c) => c.envelope.meterId));
        await this.deps.sink.send(
          fresh.map((c) => ({ ...c.envelope, meterGroup: groups.get(c.envelope.meterId) ?? never() })),
        );
      } catch (error) {
        for (const c of fresh) dedup.abandon(c.fingerprint);
        throw error;
      }
      for (const c of fresh) dedup.confirm(c.fingerprint);
      observer.produced(source.kind, fresh.length, (this.now() - startedAt) / 1000);
    }

    // A copy whose original (from a concurrent request) failed was not stored by anyone: the batch
    // must fail too, or the sender would drop a telegram that is not in Kafka.
    const outcomes = await Promise.all(waiting);
    if (outcomes.includes(false)) {
      throw new BrokerUnavailableError(
        'a concurrent copy of a telegram in this batch could not be written to Kafka',
      );
    }
    const duplicates = candidates.length - fresh.length;
    if (duplicates > 0) observer.duplicates(source.kind, duplicates);
  }
}

function never(): never {
  throw new Error('unreachable');
}
