import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { contributeToClusterMetrics } from './cluster-metrics';

/** Pipeline stages whose latency is measured from the envelope's receivedAt or the previous stage. */
export type PipelineStage = 'ingest_to_kafka' | 'kafka_to_decoded' | 'decoded_to_stored' | 'stored_to_cached';

export interface HesMetricsOptions {
  /** The process's role, added as the `app` label to every series (collector, decryptor, api, cli). */
  app: string;
  /** Collect Node.js/process default metrics (CPU, memory, event loop lag, GC). Default true. */
  defaultMetrics?: boolean;
}

/**
 * The metrics every HES process shares, registered on a registry owned by this object (one per process; a
 * test can create as many as it likes without clashing on prom-client's global registry).
 */
export class HesMetrics {
  readonly registry = new Registry();

  readonly telegramsReceived: Counter<'source'>;
  readonly duplicatesDropped: Counter<'source'>;
  readonly telegramsDecoded: Counter;
  readonly telegramsFailed: Counter<'reason'>;
  readonly readingsStored: Counter;
  readonly storageWriteDuration: Histogram<'table'>;
  readonly processingLatency: Histogram<'stage'>;
  readonly consumerLag: Gauge<'group' | 'topic' | 'partition'>;
  readonly offsetsLostToRetention: Counter<'group' | 'topic' | 'partition'>;
  readonly workerPoolUtilisation: Gauge<'pool'>;
  readonly cacheMisses: Counter<'operation'>;
  readonly rateLimitFallbacks: Counter;
  private readonly knownLagSeries = new Map<string, { group: string; topic: string; partition: string }[]>();
  private scrapeSource: () => Promise<string> = () => this.registry.metrics();

  constructor(options: HesMetricsOptions) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ app: options.app });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });

    this.telegramsReceived = new Counter({
      name: 'hes_telegrams_received_total',
      help: 'Raw telegrams received, by input source (gateway, handheld, mqtt).',
      labelNames: ['source'],
      registers,
    });
    this.duplicatesDropped = new Counter({
      name: 'hes_telegram_duplicates_dropped_total',
      help: 'Telegrams dropped as exact duplicates (overlapping gateways, re-sends), by input source.',
      labelNames: ['source'],
      registers,
    });
    this.telegramsDecoded = new Counter({
      name: 'hes_telegrams_decoded_total',
      help: 'Telegrams decrypted and decoded successfully.',
      registers,
    });
    this.telegramsFailed = new Counter({
      name: 'hes_telegrams_failed_total',
      help: 'Telegrams that could not be decoded, by reason code (e.g. NO_KEY, BAD_CRC, MAC_MISMATCH).',
      labelNames: ['reason'],
      registers,
    });
    this.readingsStored = new Counter({
      name: 'hes_readings_stored_total',
      help: 'Readings newly inserted into storage (duplicates excluded).',
      registers,
    });
    this.storageWriteDuration = new Histogram({
      name: 'hes_storage_write_duration_seconds',
      help: 'Duration of one batched storage write transaction, by table.',
      labelNames: ['table'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.processingLatency = new Histogram({
      name: 'hes_processing_latency_seconds',
      help: 'Latency of each pipeline stage: ingest_to_kafka, kafka_to_decoded, decoded_to_stored, stored_to_cached.',
      labelNames: ['stage'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.consumerLag = new Gauge({
      name: 'hes_kafka_consumer_lag_messages',
      help: 'Messages not yet committed by the consumer group, per topic partition (high watermark - committed).',
      labelNames: ['group', 'topic', 'partition'],
      registers,
    });
    this.offsetsLostToRetention = new Counter({
      name: 'hes_kafka_offsets_lost_to_retention_total',
      help: 'Messages the broker deleted (retention) before the consumer group committed them: data never processed.',
      labelNames: ['group', 'topic', 'partition'],
      registers,
    });
    this.workerPoolUtilisation = new Gauge({
      name: 'hes_worker_pool_utilisation_ratio',
      help: 'Share of the worker pool busy (0..1), by pool.',
      labelNames: ['pool'],
      registers,
    });
    this.cacheMisses = new Counter({
      name: 'hes_cache_misses_total',
      help: 'Cache operations that could not be served or applied (Redis unavailable or key absent), by operation.',
      labelNames: ['operation'],
      registers,
    });
    this.rateLimitFallbacks = new Counter({
      name: 'hes_rate_limit_fallbacks_total',
      help: 'Rate-limit checks answered by the in-process limiter because Redis was unavailable.',
      registers,
    });
  }

  /** Records a stage latency given the start time in epoch milliseconds (e.g. the envelope's receivedAt). */
  observeStage(stage: PipelineStage, startedAtMs: number, nowMs = Date.now()): void {
    this.processingLatency.observe({ stage }, Math.max(0, nowMs - startedAtMs) / 1000);
  }

  /**
   * Replaces the consumer-lag series of one group with a fresh measurement (e.g. @hes/messaging's
   * computeConsumerLag), so partitions no longer assigned to the group do not keep stale values.
   */
  setConsumerLag(lag: {
    groupId: string;
    partitions: { topic: string; partition: number; lag: number }[];
  }): void {
    for (const series of this.knownLagSeries.get(lag.groupId) ?? []) this.consumerLag.remove(series);
    const current = lag.partitions.map((p) => ({
      group: lag.groupId,
      topic: p.topic,
      partition: String(p.partition),
    }));
    lag.partitions.forEach((p, i) => this.consumerLag.set(current[i], p.lag));
    this.knownLagSeries.set(lag.groupId, current);
  }

  /**
   * In a node:cluster worker: from now on scrape() answers for every worker on the host, gathered by the primary
   * (serveClusterMetrics), and this registry is the share the primary collects from this process.
   */
  aggregateOverCluster(): void {
    this.scrapeSource = contributeToClusterMetrics(this.registry);
  }

  /** The Prometheus text exposition of every metric in this registry (of all workers after aggregateOverCluster). */
  scrape(): Promise<string> {
    return this.scrapeSource();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
