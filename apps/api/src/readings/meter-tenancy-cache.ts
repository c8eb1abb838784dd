import type { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Client, type Pool } from 'pg';
import type { MeterRef } from './readings.repository';

/** The channel the meters table's triggers notify (db/migrations/20261124130000000_meter-tenancy-notify.js). */
export const METER_TENANCY_CHANNEL = 'hes_meter_tenancy';
/** application_name of the listening connection (visible in pg_stat_activity). */
export const METER_TENANCY_LISTENER_NAME = 'hes-api-meter-tenancy';

export interface MeterTenancyCacheOptions {
  /** Meters remembered at most; the oldest entry makes room for a new one. */
  maxEntries?: number;
  /** Wait before connecting again after the listening connection failed or could not be opened. */
  reconnectDelayMs?: number;
  /** Told when the listening connection fails (the cache then answers from the database until it is back). */
  onListenerError?: (error: Error) => void;
}

/**
 * Registered meters' society, group and history floor, remembered in process so that tenancy checks of
 * latest-value and raw reads need no database round trip, and forgotten when PostgreSQL announces a change: the
 * meters table notifies METER_TENANCY_CHANNEL with the meter id on a move, rename, delete or change of its history
 * floor (empty payload: truncated, forget all), and
 * this cache holds one dedicated connection LISTENing on it. PostgreSQL sends the notification when the
 * changing transaction commits, so a change is seen as soon as that message has reached this process (the next
 * I/O turn, well under a millisecond here), not after a time-to-live.
 *
 * Correctness never rests on a notification arriving: while the listening connection is not established (before
 * start, after it failed, until it has reconnected and LISTENs again) nothing is remembered and every lookup goes
 * to the database, and everything remembered is dropped when the connection goes. A lookup whose database read
 * overlapped a notification or a reconnection does not store its answer, which may predate the change.
 * Unknown meters are never remembered, so a newly registered meter is visible at once.
 */
export class MeterTenancyCache implements OnModuleInit, OnModuleDestroy {
  private readonly meters = new Map<string, MeterRef>();
  private readonly maxEntries: number;
  private readonly reconnectDelayMs: number;
  private listener: Client | undefined;
  /** Counts forgetting events (notifications, connection changes): a read that spans one is not stored. */
  private generation = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private connecting = false;
  private closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly options: MeterTenancyCacheOptions = {},
  ) {
    this.maxEntries = options.maxEntries ?? 100_000;
    this.reconnectDelayMs = options.reconnectDelayMs ?? 1_000;
  }

  /** Whether the cache is listening, and so remembers meters. */
  get listening(): boolean {
    return this.listener !== undefined;
  }

  /** Meters remembered now. */
  get size(): number {
    return this.meters.size;
  }

  async onModuleInit(): Promise<void> {
    await this.listen();
  }

  async onModuleDestroy(): Promise<void> {
    await this.close();
  }

  /** The meter's society, group and history floor, or undefined for a meter that is not registered. */
  async get(meterId: string): Promise<MeterRef | undefined> {
    const remembered = this.meters.get(meterId);
    if (remembered !== undefined) return remembered;
    const generation = this.generation;
    const result = await this.pool.query<MeterRef>(
      `SELECT meter_id AS "meterId", society_id AS "societyId", group_id AS "groupId",
              history_from AS "historyFrom"
       FROM meters WHERE meter_id = $1`,
      [meterId],
    );
    const meter = result.rows[0];
    if (meter !== undefined && this.listener !== undefined && generation === this.generation) {
      if (this.meters.size >= this.maxEntries) this.meters.delete(this.meters.keys().next().value as string);
      this.meters.set(meterId, meter);
    }
    return meter;
  }

  /**
   * Opens the listening connection (one attempt; on failure another after reconnectDelayMs, and so on until
   * close). Resolves once the attempt has succeeded or failed, so an app that awaits it starts remembering at once.
   */
  async listen(): Promise<void> {
    if (this.closed || this.connecting || this.listener !== undefined) return;
    this.connecting = true;
    try {
      await this.connectListener();
    } finally {
      this.connecting = false;
    }
  }

  private async connectListener(): Promise<void> {
    const client = new Client({
      ...this.pool.options,
      application_name: METER_TENANCY_LISTENER_NAME,
      connectionTimeoutMillis: 5_000,
    });
    client.on('notification', (message) => {
      if (message.channel !== METER_TENANCY_CHANNEL) return;
      this.generation++;
      if (message.payload) this.meters.delete(message.payload);
      else this.meters.clear();
    });
    const lost = (error?: Error) => {
      if (this.listener !== client) return;
      this.forgetAll();
      this.listener = undefined;
      client.end().catch(() => undefined);
      if (error) this.options.onListenerError?.(error);
      this.scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    try {
      await client.connect();
      await client.query(`LISTEN ${METER_TENANCY_CHANNEL}`);
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      this.options.onListenerError?.(error as Error);
      this.scheduleReconnect();
      return;
    }
    if (this.closed) {
      await client.end();
      return;
    }
    this.forgetAll();
    this.listener = client;
  }

  /** Stops listening for good; from then on every lookup reads the database. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    const client = this.listener;
    this.listener = undefined;
    this.forgetAll();
    await client?.end();
  }

  private forgetAll(): void {
    this.generation++;
    this.meters.clear();
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.listen(), this.reconnectDelayMs);
    this.reconnectTimer.unref();
  }
}
