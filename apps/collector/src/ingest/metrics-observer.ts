import type { HesMetrics } from '@hes/metrics';
import type { SourceKind } from '@hes/messaging';
import { Counter } from 'prom-client';
import type { IngestObserver } from './pipeline';

/** Feeds the shared HES metrics, plus the collector's own count of rejected items by reason. */
export class MetricsIngestObserver implements IngestObserver {
  private readonly rejectedItems: Counter<'source' | 'reason'>;

  constructor(private readonly metrics: HesMetrics) {
    this.rejectedItems = new Counter({
      name: 'hes_collector_rejected_total',
      help: 'Telegram items rejected by the collector before Kafka, by input source and reason code.',
      labelNames: ['source', 'reason'],
      registers: [metrics.registry],
    });
  }

  received(source: SourceKind, count: number): void {
    this.metrics.telegramsReceived.inc({ source }, count);
  }

  duplicates(source: SourceKind, count: number): void {
    this.metrics.duplicatesDropped.inc({ source }, count);
  }

  rejected(source: SourceKind, code: string): void {
    this.rejectedItems.inc({ source, reason: code });
  }

  produced(_source: SourceKind, count: number, ingestToKafkaSeconds: number): void {
    // One observation per telegram, so the histogram's percentiles are per telegram, not per batch.
    for (let i = 0; i < count; i++)
      this.metrics.processingLatency.observe({ stage: 'ingest_to_kafka' }, ingestToKafkaSeconds);
  }
}
