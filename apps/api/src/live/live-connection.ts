import { AuthenticationError, credentialOf, type Authenticator, type Principal } from '@hes/auth';
import { quantityKey, type CachedEvent, type CachedReading } from '@hes/cache';
import type { WebSocketConfig } from '@hes/config';
import { Logger } from '@nestjs/common';
import { decodeJwt } from 'jose';
import type { IncomingHttpHeaders } from 'node:http';
import { WebSocket, type RawData } from 'ws';
import { latestValueOfCache } from '../readings/latest-readings';
import type { LiveHub, LiveSubscriber } from './live-hub';
import type { CloseReason, LiveMetrics } from './live-metrics';
import {
  CLOSE_CODES,
  errorMessage,
  parseClientMessage,
  targetOf,
  type ClientMessage,
  type LiveEvent,
  type LiveReading,
  type ServerMessage,
  type SubscribeMessage,
  type SubscriptionTarget,
} from './live-protocol';
import type { LiveRepository } from './live-repository';

/** Items per backfill message: big enough to be quick, small enough to keep each frame well under a megabyte. */
const BACKFILL_CHUNK = 1000;
/** setTimeout's ceiling (about 24.8 days); a token living longer is re-checked when this fires. */
const MAX_TIMER_MS = 2_147_483_647;
/** Client frames waiting to be handled, at most; more are answered `rate_limited` and dropped. */
const MAX_PENDING_FRAMES = 32;
/** WebSocket close reasons are limited to 123 bytes. */
const MAX_CLOSE_REASON = 120;

export interface LiveConnectionContext {
  hub: LiveHub;
  repository: LiveRepository;
  authenticator: Authenticator;
  metrics: LiveMetrics;
  settings: WebSocketConfig;
}

/**
 * One client of the live gateway. Frames are handled strictly one after another (auth before subscribe,
 * subscribe before unsubscribe). Live readings wait in a map keyed by meter+quantity, so between two flushes
 * only the newest value of each survives; events wait in a list and are never coalesced. Flushes are at least
 * 1/`maxMessagesPerSecond` apart and each sends one `update` message with everything waiting. A client whose
 * unsent socket buffer passes `maxBufferedBytes`, or whose queue passes `maxQueuedItems`, is closed as a slow
 * consumer: queues stay bounded whatever the publish rate.
 */
export class LiveConnection implements LiveSubscriber {
  private readonly logger = new Logger('LiveGateway');
  private authenticated: Principal | undefined;
  /** An API key stays valid until revoked, so a connection made with one re-checks it now and then. */
  private apiKey: string | undefined;
  private readonly subscriptions = new Map<string, SubscriptionTarget['kind']>();
  private readonly pendingReadings = new Map<string, CachedReading>();
  private pendingEvents: CachedEvent[] = [];
  private readonly flushIntervalMs: number;
  private lastFlushAt = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private authTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** Backfills in progress: live updates queue up (and are de-duplicated against the backfill) meanwhile. */
  private backfilling = 0;
  private closed = false;
  private work: Promise<void> = Promise.resolve();
  private pendingFrames = 0;

  constructor(
    private readonly socket: WebSocket,
    headers: IncomingHttpHeaders,
    private readonly context: LiveConnectionContext,
  ) {
    const { settings } = context;
    this.flushIntervalMs = 1000 / settings.maxMessagesPerSecond;
    socket.on('message', (data: RawData, isBinary: boolean) => this.receive(data, isBinary));
    let credential: string | undefined;
    try {
      credential = credentialOf(headers);
    } catch (error) {
      this.close(
        CLOSE_CODES.unauthenticated,
        `authentication failed: ${(error as Error).message}`,
        'unauthenticated',
      );
      return;
    }
    if (credential !== undefined) {
      const headerCredential = credential;
      this.enqueue(() => this.authenticate(headerCredential));
    } else {
      this.authTimer = setTimeout(
        () =>
          this.close(
            CLOSE_CODES.unauthenticated,
            `authentication timeout: send {"type":"auth","token":...} within ${settings.authTimeoutMs} ms`,
            'unauthenticated',
          ),
        settings.authTimeoutMs,
      );
    }
  }

  get principal(): Principal {
    if (!this.authenticated) throw new Error('the connection is not authenticated');
    return this.authenticated;
  }

  deliverReading(reading: CachedReading): void {
    if (this.closed) return;
    const key = `${reading.meterId}\u0000${quantityKey(reading)}`;
    const queued = this.pendingReadings.get(key);
    if (queued) {
      this.context.metrics.readingsCoalesced.inc();
      if (reading.ts >= queued.ts) this.pendingReadings.set(key, reading);
      return;
    }
    if (this.queueFull()) return;
    this.pendingReadings.set(key, reading);
    this.scheduleFlush();
  }

  deliverEvent(event: CachedEvent): void {
    if (this.closed || this.queueFull()) return;
    this.pendingEvents.push(event);
    this.scheduleFlush();
  }

  subscriptionEnded(key: string, reason: string): void {
    const kind = this.subscriptions.get(key);
    if (kind === undefined) return;
    this.subscriptions.delete(key);
    this.context.metrics.subscriptions.dec({ kind });
    this.send({ type: 'unsubscribed', subscription: key, reason });
  }

  /** Closes a connection made with an API key that has been revoked since (4401). */
  recheckCredential(): void {
    const apiKey = this.apiKey;
    if (apiKey === undefined) return;
    this.enqueue(async () => {
      try {
        await this.context.authenticator.authenticate(apiKey);
      } catch (error) {
        if (!(error instanceof AuthenticationError)) throw error;
        this.close(CLOSE_CODES.unauthenticated, `authentication failed: ${error.message}`, 'unauthenticated');
      }
    });
  }

  liveInterrupted(): void {
    this.send(
      errorMessage(
        'live_interrupted',
        'the live feed was interrupted; subscribe again with since (the newest ts received) to fill the gap',
      ),
    );
  }

  /** Closes the connection with a code and reason the client sees, and stops all delivery to it at once. */
  close(code: number, reason: string, why: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    this.context.metrics.connectionsClosed.inc({ reason: why });
    if (why === 'slow_consumer') {
      this.context.metrics.itemsDropped.inc(
        { reason: why },
        this.pendingReadings.size + this.pendingEvents.length,
      );
    }
    this.release();
    this.socket.close(code, truncate(reason, MAX_CLOSE_REASON));
  }

  /** The socket is gone (closed by either side). */
  disconnected(): void {
    if (!this.closed) {
      this.closed = true;
      this.context.metrics.connectionsClosed.inc({ reason: 'client' });
      this.release();
    }
  }

  private release(): void {
    clearTimeout(this.flushTimer);
    clearTimeout(this.authTimer);
    clearTimeout(this.expiryTimer);
    this.context.hub.removeSubscriber(this);
    for (const kind of this.subscriptions.values()) this.context.metrics.subscriptions.dec({ kind });
    this.subscriptions.clear();
    this.pendingReadings.clear();
    this.pendingEvents = [];
  }

  /** Frames are handled one at a time; a client sending faster than they are answered gets `rate_limited`. */
  private receive(data: RawData, isBinary: boolean): void {
    if (this.pendingFrames >= MAX_PENDING_FRAMES) {
      this.send(
        errorMessage(
          'rate_limited',
          `more than ${MAX_PENDING_FRAMES} requests waiting; wait for the answers`,
        ),
      );
      return;
    }
    this.pendingFrames++;
    this.enqueue(async () => {
      try {
        await this.handleFrame(data, isBinary);
      } finally {
        this.pendingFrames--;
      }
    });
  }

  private enqueue(task: () => Promise<void>): void {
    this.work = this.work.then(async () => {
      if (this.closed) return;
      try {
        await task();
      } catch (error) {
        this.logger.error(`live request failed: ${error instanceof Error ? error.message : String(error)}`);
        this.send(errorMessage('unavailable', 'the request could not be handled now; try again'));
      }
    });
  }

  private async handleFrame(data: RawData, isBinary: boolean): Promise<void> {
    if (isBinary) {
      this.send(
        errorMessage('validation_failed', 'request validation failed', [
          { field: '', message: 'must be a JSON text frame' },
        ]),
      );
      return;
    }
    const parsed = parseClientMessage(rawText(data));
    if (!parsed.ok) {
      this.send(errorMessage('validation_failed', 'request validation failed', parsed.details));
      return;
    }
    const message: ClientMessage = parsed.message;
    if (message.type === 'auth') {
      if (this.authenticated) this.send(errorMessage('conflict', 'already authenticated'));
      else await this.authenticate(message.token);
      return;
    }
    if (!this.authenticated) {
      this.close(
        CLOSE_CODES.unauthenticated,
        'authentication required: send {"type":"auth","token":...} first',
        'unauthenticated',
      );
      return;
    }
    if (message.type === 'subscribe') await this.subscribe(message);
    else this.unsubscribe(targetOf(message));
  }

  private async authenticate(credential: string): Promise<void> {
    let principal: Principal;
    try {
      principal = await this.context.authenticator.authenticate(credential);
    } catch (error) {
      if (!(error instanceof AuthenticationError)) throw error;
      this.close(CLOSE_CODES.unauthenticated, `authentication failed: ${error.message}`, 'unauthenticated');
      return;
    }
    if (this.closed) return;
    if (!principal.scopes.includes('read')) {
      this.close(CLOSE_CODES.forbidden, 'credential lacks the read scope', 'forbidden');
      return;
    }
    clearTimeout(this.authTimer);
    this.authenticated = principal;
    if (principal.kind === 'api_key') this.apiKey = credential;
    const expiresAtMs = tokenExpiryMs(credential);
    if (expiresAtMs !== undefined) {
      this.expiryTimer = setTimeout(
        () => this.close(CLOSE_CODES.unauthenticated, 'access token expired', 'unauthenticated'),
        Math.min(MAX_TIMER_MS, Math.max(0, expiresAtMs - Date.now())),
      );
    }
    this.send({
      type: 'authenticated',
      principal: { kind: principal.kind, role: principal.role, societyIds: principal.societyIds },
      maxMessagesPerSecond: this.context.settings.maxMessagesPerSecond,
    });
  }

  private async subscribe(message: SubscribeMessage): Promise<void> {
    const target = targetOf(message);
    const { settings, metrics, hub } = this.context;
    if (!this.subscriptions.has(target.key) && this.subscriptions.size >= settings.maxSubscriptions) {
      this.send(
        errorMessage(
          'too_many_subscriptions',
          `at most ${settings.maxSubscriptions} subscriptions per connection`,
          [],
          target.key,
        ),
      );
      return;
    }
    const since = message.since;
    // Paused before the hub registers the subscription: whatever is published from then on waits in the
    // queue until the backfill is out, so nothing falls between the database read and the live feed.
    if (since) this.backfilling++;
    try {
      const result = await hub.subscribe(this, target);
      if (this.closed) {
        hub.removeSubscriber(this);
        return;
      }
      if (!result.ok) {
        // Subscribed before but no longer visible (e.g. the meter moved away since): that subscription ends too.
        if (this.subscriptions.has(target.key)) this.unsubscribe(target);
        this.send(errorMessage('not_found', result.notFound, [], target.key));
        return;
      }
      if (!this.subscriptions.has(target.key)) {
        this.subscriptions.set(target.key, target.kind);
        metrics.subscriptions.inc({ kind: target.kind });
      }
      this.send({ type: 'subscribed', subscription: target.key, meters: result.meters.length });
      if (since) await this.backfill(target.key, result.meters, since);
    } finally {
      if (since) {
        this.backfilling--;
        this.scheduleFlush();
      }
    }
  }

  private unsubscribe(target: SubscriptionTarget): void {
    const kind = this.subscriptions.get(target.key);
    if (kind === undefined) {
      this.send(errorMessage('not_subscribed', 'no such subscription on this connection', [], target.key));
      return;
    }
    this.context.hub.unsubscribe(this, target);
    this.subscriptions.delete(target.key);
    this.context.metrics.subscriptions.dec({ kind });
    this.send({ type: 'unsubscribed', subscription: target.key });
  }

  /**
   * Sends what was stored after `since` for the subscription's meters (oldest first, bounded), then drops from
   * the waiting live queue what the backfill already carried: readings whose meter+quantity was backfilled
   * with the same or a newer timestamp, and events with the same natural key (meter, kind, ts). Readings are
   * stored before they are published, so every reading is either in the database read or published after
   * the subscription was registered (or both, and then it is sent once).
   */
  private async backfill(subscription: string, meters: string[], since: Date): Promise<void> {
    const { repository, settings } = this.context;
    const [readings, events] =
      meters.length === 0
        ? [
            { items: [], truncated: false },
            { items: [], truncated: false },
          ]
        : await Promise.all([
            repository.readingsSince(meters, since, settings.backfillLimit),
            repository.eventsSince(meters, since, settings.backfillLimit),
          ]);
    if (this.closed) return;
    const chunks = Math.max(
      1,
      Math.ceil(readings.items.length / BACKFILL_CHUNK),
      Math.ceil(events.items.length / BACKFILL_CHUNK),
    );
    for (let chunk = 0; chunk < chunks; chunk++) {
      if (this.slowConsumer()) return;
      const last = chunk === chunks - 1;
      const from = chunk * BACKFILL_CHUNK;
      this.send({
        type: 'backfill',
        subscription,
        readings: readings.items.slice(from, from + BACKFILL_CHUNK),
        events: events.items.slice(from, from + BACKFILL_CHUNK),
        ...(last && {
          complete: {
            readings: readings.items.length,
            events: events.items.length,
            truncated: readings.truncated || events.truncated,
          },
        }),
      });
    }
    const newestBackfilled = new Map<string, number>();
    for (const r of readings.items) {
      const key = `${r.meterId}\u0000${quantityKey(r)}`;
      newestBackfilled.set(key, Math.max(newestBackfilled.get(key) ?? 0, Date.parse(r.ts)));
    }
    for (const [key, queued] of this.pendingReadings) {
      if ((newestBackfilled.get(key) ?? -Infinity) >= queued.ts) this.pendingReadings.delete(key);
    }
    const backfilledEvents = new Set(events.items.map((e) => eventKey(e.meterId, e.kind, Date.parse(e.ts))));
    this.pendingEvents = this.pendingEvents.filter(
      (e) => !backfilledEvents.has(eventKey(e.meterId, e.kind, e.ts)),
    );
  }

  private scheduleFlush(): void {
    if (this.closed || this.flushTimer || this.backfilling > 0) return;
    if (this.pendingReadings.size === 0 && this.pendingEvents.length === 0) return;
    const delay = Math.max(0, this.lastFlushAt + this.flushIntervalMs - Date.now());
    this.flushTimer = setTimeout(() => this.flush(), delay);
  }

  private flush(): void {
    this.flushTimer = undefined;
    if (this.closed || this.backfilling > 0) return;
    if (this.pendingReadings.size === 0 && this.pendingEvents.length === 0) return;
    if (this.slowConsumer()) return;
    const readings = [...this.pendingReadings.values()].map(liveReading);
    const events = this.pendingEvents.map(liveEvent);
    this.pendingReadings.clear();
    this.pendingEvents = [];
    this.lastFlushAt = Date.now();
    this.send({ type: 'update', readings, events });
  }

  /** Closes the connection when its unsent socket buffer is past the bound; true when it did. */
  private slowConsumer(): boolean {
    const { maxBufferedBytes } = this.context.settings;
    if (this.socket.bufferedAmount <= maxBufferedBytes) return false;
    this.close(
      CLOSE_CODES.slowConsumer,
      `slow consumer: more than ${maxBufferedBytes} bytes unsent`,
      'slow_consumer',
    );
    return true;
  }

  private queueFull(): boolean {
    const { maxQueuedItems } = this.context.settings;
    if (this.pendingReadings.size + this.pendingEvents.length < maxQueuedItems) return false;
    this.close(
      CLOSE_CODES.slowConsumer,
      `slow consumer: more than ${maxQueuedItems} items queued`,
      'slow_consumer',
    );
    return true;
  }

  private send(message: ServerMessage): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    this.socket.send(JSON.stringify(message));
    this.context.metrics.messagesSent.inc({ type: message.type });
  }
}

function liveReading(r: CachedReading): LiveReading {
  return { meterId: r.meterId, ...latestValueOfCache(r) };
}

function liveEvent(e: CachedEvent): LiveEvent {
  return { meterId: e.meterId, kind: e.kind, ts: new Date(e.ts).toISOString(), details: e.details ?? {} };
}

function eventKey(meterId: string, kind: string, tsMs: number): string {
  return `${meterId}\u0000${kind}\u0000${tsMs}`;
}

/** Expiry of a JWT credential in epoch ms; undefined for API keys and tokens without `exp`. */
function tokenExpiryMs(credential: string): number | undefined {
  try {
    const { exp } = decodeJwt(credential);
    return exp === undefined ? undefined : exp * 1000;
  } catch {
    return undefined;
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}

function truncate(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length <= maxBytes ? text : bytes.subarray(0, maxBytes).toString('utf8');
}
