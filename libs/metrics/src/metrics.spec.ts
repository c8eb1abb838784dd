import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { HesMetrics } from './hes-metrics';
import { metricsHandler } from './metrics-handler';
import { HES_METRICS, MetricsModule } from './metrics.module';

/** Finds a sample by metric name and exact label set (label order in the exposition does not matter). */
function sampleValue(text: string, series: string): number | undefined {
  const parse = (s: string) => {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?$/.exec(s);
    if (!match) throw new Error(`bad series ${s}`);
    const labels = [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(
      ([, k, v]) => `${k}=${v}`,
    );
    return `${match[1]}|${labels.sort().join(',')}`;
  };
  const wanted = parse(series);
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const cut = line.lastIndexOf(' ');
    if (parse(line.slice(0, cut)) === wanted) return Number(line.slice(cut + 1));
  }
  return undefined;
}

describe('HesMetrics', () => {
  it('exposes the shared hes_ metrics with their labels in the text format', async () => {
    const metrics = new HesMetrics({ app: 'collector', defaultMetrics: false });
    metrics.telegramsReceived.inc({ source: 'gateway' }, 3);
    metrics.duplicatesDropped.inc({ source: 'mqtt' });
    metrics.telegramsFailed.inc({ reason: 'NO_KEY' }, 2);
    metrics.consumerLag.set({ group: 'decryptor', topic: 'hes.telegrams.raw', partition: '3' }, 42);
    metrics.workerPoolUtilisation.set({ pool: 'decrypt' }, 0.75);
    metrics.observeStage('ingest_to_kafka', 1_000, 1_030);
    metrics.storageWriteDuration.observe({ table: 'readings' }, 0.004);
    const text = await metrics.scrape();
    expect(sampleValue(text, 'hes_telegrams_received_total{source="gateway",app="collector"}')).toBe(3);
    expect(sampleValue(text, 'hes_telegram_duplicates_dropped_total{source="mqtt",app="collector"}')).toBe(1);
    expect(sampleValue(text, 'hes_telegrams_failed_total{reason="NO_KEY",app="collector"}')).toBe(2);
    expect(
      sampleValue(
        text,
        'hes_kafka_consumer_lag_messages{group="decryptor",topic="hes.telegrams.raw",partition="3",app="collector"}',
      ),
    ).toBe(42);
    expect(sampleValue(text, 'hes_worker_pool_utilisation_ratio{pool="decrypt",app="collector"}')).toBe(0.75);
    // 30 ms falls in the 0.05 s bucket but not the 0.025 s one.
    expect(
      sampleValue(
        text,
        'hes_processing_latency_seconds_bucket{le="0.025",stage="ingest_to_kafka",app="collector"}',
      ),
    ).toBe(0);
    expect(
      sampleValue(
        text,
        'hes_processing_latency_seconds_bucket{le="0.05",stage="ingest_to_kafka",app="collector"}',
      ),
    ).toBe(1);
    expect(
      sampleValue(text, 'hes_storage_write_duration_seconds_count{table="readings",app="collector"}'),
    ).toBe(1);
    for (const name of [
      'hes_telegrams_decoded_total',
      'hes_readings_stored_total',
      'hes_cache_misses_total',
    ]) {
      expect(text).toContain(`# TYPE ${name} counter`);
    }
    expect(text).not.toContain('process_cpu_user_seconds_total');
  });

  it("replaces a group's lag series with each new measurement", async () => {
    const metrics = new HesMetrics({ app: 'decryptor', defaultMetrics: false });
    metrics.setConsumerLag({
      groupId: 'dec',
      partitions: [
        { topic: 'raw', partition: 0, lag: 5 },
        { topic: 'raw', partition: 1, lag: 9 },
      ],
    });
    metrics.setConsumerLag({ groupId: 'dec', partitions: [{ topic: 'raw', partition: 1, lag: 2 }] });
    const text = await metrics.scrape();
    const series = (p: number) =>
      `hes_kafka_consumer_lag_messages{group="dec",topic="raw",partition="${p}",app="decryptor"}`;
    expect(sampleValue(text, series(1))).toBe(2);
    expect(sampleValue(text, series(0))).toBeUndefined();
  });

  it('keeps registries of separate instances apart and includes default process metrics when asked', async () => {
    const a = new HesMetrics({ app: 'a' });
    const b = new HesMetrics({ app: 'b', defaultMetrics: false });
    a.readingsStored.inc(5);
    expect(sampleValue(await b.scrape(), 'hes_readings_stored_total{app="b"}')).toBe(0);
    const text = await a.scrape();
    expect(sampleValue(text, 'hes_readings_stored_total{app="a"}')).toBe(5);
    expect(text).toContain('process_cpu_user_seconds_total{app="a"}');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });
});

describe('metricsHandler', () => {
  let server: Server;
  let metrics: HesMetrics;
  beforeAll(async () => {
    metrics = new HesMetrics({ app: 'decryptor', defaultMetrics: false });
    server = createServer(metricsHandler(metrics));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('serves the text format over plain node:http and refuses other methods', async () => {
    metrics.telegramsDecoded.inc(7);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    expect(sampleValue(await response.text(), 'hes_telegrams_decoded_total{app="decryptor"}')).toBe(7);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);
  });
});

describe('MetricsModule', () => {
  let app: INestApplication;
  afterEach(async () => app?.close());

  it('serves GET /metrics and injects the shared instance', async () => {
    const metrics = new HesMetrics({ app: 'api', defaultMetrics: false });
    const moduleRef = await Test.createTestingModule({ imports: [MetricsModule.forRoot(metrics)] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    expect(app.get(HES_METRICS)).toBe(metrics);
    metrics.cacheMisses.inc({ operation: 'write' }, 4);
    const response = await request(app.getHttpServer()).get('/metrics').expect(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain;.*version=0\.0\.4/);
    expect(sampleValue(response.text, 'hes_cache_misses_total{operation="write",app="api"}')).toBe(4);
  });
});
