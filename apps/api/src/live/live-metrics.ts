import type { HesMetrics } from '@hes/metrics';
import { Counter, Gauge } from 'prom-client';

export type CloseReason = 'unauthenticated' | 'forbidden' | 'slow_consumer' | 'client' | 'shutdown';

/** The live gateway's series, registered on the process's HesMetrics registry (served at /metrics). */
export class LiveMetrics {
  readonly connections: Gauge;
  readonly subscriptions: Gauge<'kind'>;
  readonly messagesSent: Counter<'type'>;
  readonly readingsCoalesced: Counter;
  readonly itemsDropped: Counter<'reason'>;
  readonly connectionsClosed: Counter<'reason'>;
  readonly liveMessagesMalformed: Counter;

  constructor(metrics: HesMetrics) {
    const registers = [metrics.registry];
    this.connections = new Gauge({
      name: 'hes_ws_connections',
      help: 'Open WebSocket connections (authenticated or still authenticating).',
      registers,
    });
    this.subscriptions = new Gauge({
      name: 'hes_ws_subscriptions',
      help: 'Active live subscriptions, by kind (meter, group, society).',
      labelNames: ['kind'],
      registers,
    });
    this.messagesSent = new Counter({
      name: 'hes_ws_messages_sent_total',
      help: 'Messages sent to WebSocket clients, by type (update, backfill, subscribed, error, ...).',
      labelNames: ['type'],
      registers,
    });
    this.readingsCoalesced = new Counter({
      name: 'hes_ws_readings_coalesced_total',
      help: 'Readings replaced by a newer value of the same meter+quantity before the next flush (not sent).',
      registers,
    });
    this.itemsDropped = new Counter({
      name: 'hes_ws_items_dropped_total',
      help: 'Queued readings and events discarded with their connection, by reason (slow_consumer).',
      labelNames: ['reason'],
      registers,
    });
    this.connectionsClosed = new Counter({
      name: 'hes_ws_connections_closed_total',
      help: 'WebSocket connections ended, by reason (unauthenticated, forbidden, slow_consumer, client, shutdown).',
      labelNames: ['reason'],
      registers,
    });
    this.liveMessagesMalformed = new Counter({
      name: 'hes_ws_live_messages_malformed_total',
      help: 'Redis pub/sub messages on the live channels that were not the JSON arrays the cache publishes.',
      registers,
    });
  }
}
