import type { Pool } from 'pg';

/** One telegram heard from a meter, as the pipeline stored it. */
export interface MeterSighting {
  meterId: string;
  /** Receive time of the telegram (not the time it was processed). */
  seenAt: Date;
  rssiDbm?: number | null;
  /** Kind of input the telegram came through (gateway, handheld, mqtt, ...). */
  source: string;
  gatewayId?: string | null;
  /** Status flags of the decoded telegram as its driver names them ("LEAK", "POWER_LOW"); empty when all is well. */
  statusFlags?: readonly string[];
}

export interface MeterStatusWriterOptions {
  /** How often the coalesced sightings are written; 10 s by default. */
  flushIntervalMs?: number;
  /** Told about a failed periodic flush; the sightings are kept and written with the next flush. */
  onError?: (error: Error) => void;
}

export const DEFAULT_METER_STATUS_FLUSH_INTERVAL_MS = 10_000;

/**
 * Rows are ordered by meter id so concurrent writers (several decryptors) lock rows in the same order and never
 * deadlock. A sighting older than the stored one changes nothing, so late or replayed telegrams never move a
 * meter's last sighting back in time.
 */
const UPSERT_METER_STATUS = `
  INSERT INTO meter_status AS s (meter_id, last_seen_at, last_rssi_dbm, last_source, last_gateway_id, status_flags,
                                 updated_at)
  SELECT meter_id, seen_at, rssi_dbm, source, gateway_id,
         ARRAY(SELECT jsonb_array_elements_text(status_flags)), now()
  FROM unnest($1::text[], $2::timestamptz[], $3::real[], $4::text[], $5::text[], $6::jsonb[])
    AS input(meter_id, seen_at, rssi_dbm, source, gateway_id, status_flags)
  ORDER BY meter_id
  ON CONFLICT (meter_id) DO UPDATE SET
    last_seen_at = EXCLUDED.last_seen_at,
    last_rssi_dbm = EXCLUDED.last_rssi_dbm,
    last_source = EXCLUDED.last_source,
    last_gateway_id = EXCLUDED.last_gateway_id,
    status_flags = EXCLUDED.status_flags,
    updated_at = EXCLUDED.updated_at
  WHERE EXCLUDED.last_seen_at >= s.last_seen_at`;

/**
 * Keeps every meter's last sighting in meter_status without a write per telegram: sightings are coalesced in
 * memory (the newest per meter wins) and written every `flushIntervalMs` in one upsert statement, and once more
 * on stop. A meter heard a thousand times between flushes costs one row in that statement.
 */
export class MeterStatusWriter {
  private pending = new Map<string, MeterSighting>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<number> | undefined;
  private readonly flushIntervalMs: number;
  private readonly onError: (error: Error) => void;

  constructor(
    private readonly pool: Pool,
    options: MeterStatusWriterOptions = {},
  ) {
    this.flushIntervalMs = options.flushIntervalMs ?? DEFAULT_METER_STATUS_FLUSH_INTERVAL_MS;
    if (!(this.flushIntervalMs > 0)) throw new Error('flushIntervalMs must be a positive number');
    this.onError = options.onError ?? (() => undefined);
  }

  /** Sightings waiting for the next flush (one per meter). */
  get pendingCount(): number {
    return this.pending.size;
  }

  record(sighting: MeterSighting): void {
    const meterId = sighting.meterId.toUpperCase();
    const held = this.pending.get(meterId);
    if (!held || sighting.seenAt.getTime() >= held.seenAt.getTime()) {
      this.pending.set(meterId, { ...sighting, meterId });
    }
  }

  recordAll(sightings: Iterable<MeterSighting>): void {
    for (const sighting of sightings) this.record(sighting);
  }

  /** Starts the periodic flush; the timer does not keep the process alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.inFlight || this.pending.size === 0) return;
      this.flush().catch((error: unknown) =>
        this.onError(error instanceof Error ? error : new Error(String(error))),
      );
    }, this.flushIntervalMs);
    this.timer.unref();
  }

  /**
   * Writes the pending sightings now and returns how many meters were written. Waits for a flush already under
   * way first, so two flushes never run at once. On failure the sightings go back to the pending set (where
   * newer ones recorded meanwhile win) and the error is thrown.
   */
  async flush(): Promise<number> {
    while (this.inFlight) await this.inFlight.catch(() => undefined);
    if (this.pending.size === 0) return 0;
    const batch = this.pending;
    this.pending = new Map();
    const write = this.write([...batch.values()]);
    this.inFlight = write;
    try {
      return await write;
    } catch (error) {
      for (const sighting of batch.values()) {
        const newer = this.pending.get(sighting.meterId);
        if (!newer || newer.seenAt.getTime() < sighting.seenAt.getTime()) {
          this.pending.set(sighting.meterId, sighting);
        }
      }
      throw error;
    } finally {
      this.inFlight = undefined;
    }
  }

  /** Stops the periodic flush and writes what is still pending. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async write(sightings: readonly MeterSighting[]): Promise<number> {
    await this.pool.query(UPSERT_METER_STATUS, [
      sightings.map((sighting) => sighting.meterId),
      sightings.map((sighting) => sighting.seenAt),
      sightings.map((sighting) => sighting.rssiDbm ?? null),
      sightings.map((sighting) => sighting.source),
      sightings.map((sighting) => sighting.gatewayId ?? null),
      sightings.map((sighting) => JSON.stringify(sighting.statusFlags ?? [])),
    ]);
    return sightings.length;
  }
}
