import type { INestApplication } from '@nestjs/common';
import { BrokerUnavailableError, type TelegramEnvelope } from '@hes/messaging';
import { hashApiKey } from '@hes/keys';
import { HesMetrics } from '@hes/metrics';
import { addFrameCrcs } from '@hes/wmbus';
import request from 'supertest';
import { createCollectorApp } from './app';
import { loadCollectorSettings } from './collector-settings';
import type { HandheldUploadResult, HandheldUploadStore } from './http/handheld-uploads.controller';

/**
 * The HTTP contract of the collector (auth, per-item results, NDJSON, 503/429 mapping, handheld
 * idempotency) with in-memory stand-ins for Kafka and the database. The same paths against the real
 * broker, PostgreSQL and Mosquitto belong in collector.int.spec.ts.
 */
/** Kamstrup flowIQ-style frame (ELL AES-CTR, still encrypted), vector "Elen" of shared/wmbus/vectors.jsonl. */
const KAMSTRUP = Buffer.from(
  '35442D2C6666666633028D2070806A0520B4D3780405F208000004FB82753F00000004853C0000000004FB82F53CCA01000001FD1722',
  'hex',
);

class MemorySink {
  sent: TelegramEnvelope[] = [];
  failWith?: Error;
  async send(envelopes: readonly TelegramEnvelope[]) {
    if (this.failWith) throw this.failWith;
    this.sent.push(...envelopes);
  }
}

class MemoryUploads implements HandheldUploadStore {
  stored = new Map<string, HandheldUploadResult>();
  async find(id: string) {
    return this.stored.get(id);
  }
  async save(id: string, _count: number, result: HandheldUploadResult) {
    if (!this.stored.has(id)) this.stored.set(id, result);
    return this.stored.get(id)!;
  }
}

describe('collector HTTP', () => {
  let app: INestApplication;
  let sink: MemorySink;
  let uploads: MemoryUploads;
  const key = 'gw-key-0123456789abcdef';

  beforeEach(async () => {
    sink = new MemorySink();
    uploads = new MemoryUploads();
    app = await createCollectorApp({
      settings: loadCollectorSettings({ COLLECTOR_MAX_INFLIGHT_MESSAGES: '5' }),
      metrics: new HesMetrics({ app: 'collector', defaultMetrics: false }),
      logLevel: 'silent',
      sink,
      meterGroups: {
        groupsOf: async (ids) => new Map(ids.filter((id) => id === '66666666').map((id) => [id, 'tower-7'])),
      },
      credentials: {
        credentialForKeyHash: async (hash) =>
          hash === hashApiKey(key) ? { kind: 'gateway', id: 'gw-1' } : undefined,
      },
      audit: { write: async () => undefined },
      meterSocieties: { registeredOutside: async () => new Set<string>() },
      uploads,
      healthChecks: { kafka: async () => undefined },
    });
    await app.init();
  });
  afterEach(() => app.close());

  const post = (path: string) =>
    request(app.getHttpServer()).post(path).set('Authorization', `Bearer ${key}`);

  it('refuses requests without a valid API key', async () => {
    await request(app.getHttpServer()).post('/api/v1/gateways/telegrams').send([]).expect(401);
    await request(app.getHttpServer())
      .post('/api/v1/gateways/telegrams')
      .set('X-API-Key', 'wrong')
      .send([])
      .expect(401);
    expect(sink.sent).toHaveLength(0);
  });

  it('answers per item for a mixed batch and produces only the good telegrams', async () => {
    const corrupted = addFrameCrcs(KAMSTRUP, 'A');
    corrupted[20] ^= 0xff;
    const response = await post('/api/v1/gateways/telegrams')
      .send([
        { telegram: KAMSTRUP.toString('hex'), rssi: -71, receivedAt: '2026-01-02T03:04:05Z' },
        { telegram: 'zz' },
        { telegram: addFrameCrcs(KAMSTRUP, 'A').toString('base64') },
        { telegram: corrupted.toString('hex') },
        { telegram: KAMSTRUP.subarray(0, 30).toString('hex') },
        { telegram: KAMSTRUP.toString('hex'), gatewayId: 'gw-2' },
      ])
      .expect(200);
    expect(response.body.results.map((r: { status: string }) => r.status)).toEqual([
      'accepted',
      'rejected',
      'duplicate',
      'rejected',
      'rejected',
      'rejected',
    ]);
    expect(response.body.results[1].reason).toMatchObject({ code: 'BAD_INPUT', field: 'telegram' });
    expect(response.body.results[3].reason.code).toBe('BAD_CRC');
    expect(response.body.results[4].reason.code).toBe('BAD_LENGTH');
    expect(response.body.results[5].reason).toMatchObject({ code: 'GATEWAY_MISMATCH', field: 'gatewayId' });
    expect(sink.sent).toHaveLength(1);
    expect(sink.sent[0]).toMatchObject({
      sourceKind: 'gateway',
      sourceId: 'gw-1',
      meterId: '66666666',
      manufacturer: 'KAM',
      meterGroup: 'tower-7',
      signal: -71,
      receivedAt: Date.parse('2026-01-02T03:04:05Z'),
    });
  });

  it('streams NDJSON and reports bad lines without failing the rest', async () => {
    const other = Buffer.from(KAMSTRUP);
    other[4] = 0x77;
    const body = [
      JSON.stringify({ telegram: KAMSTRUP.toString('hex') }),
      '{not json',
      JSON.stringify({ telegram: other.toString('hex') }),
    ].join('\n');
    const response = await post('/api/v1/gateways/telegrams')
      .set('Content-Type', 'application/x-ndjson')
      .send(body)
      .expect(200);
    expect(response.body).toMatchObject({ accepted: 2, rejected: 1, duplicates: 0 });
    expect(response.body.results[1].reason.code).toBe('BAD_JSON');
    expect(sink.sent.map((e) => e.meterGroup)).toEqual(['tower-7', 'default']);
  });

  it('answers 503 with Retry-After when the broker is down, and a retry is not taken for a duplicate', async () => {
    sink.failWith = new BrokerUnavailableError('broker down');
    const first = await post('/api/v1/gateways/telegrams')
      .send([KAMSTRUP.toString('hex')])
      .expect(503);
    expect(first.headers['retry-after']).toBe('5');
    sink.failWith = undefined;
    const retry = await post('/api/v1/gateways/telegrams')
      .send([KAMSTRUP.toString('hex')])
      .expect(200);
    expect(retry.body.results[0].status).toBe('accepted');
  });

  it('answers 429 while too many telegrams wait for the broker', async () => {
    let release!: () => void;
    sink.send = () => new Promise<void>((resolve) => (release = resolve));
    const variants = Array.from({ length: 5 }, (_, i) => {
      const t = Buffer.from(KAMSTRUP);
      t[5] = i;
      return t.toString('hex');
    });
    const slow = post('/api/v1/gateways/telegrams')
      .send(variants)
      .then((r) => r);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const refused = await post('/api/v1/gateways/telegrams')
      .send([KAMSTRUP.toString('hex')])
      .expect(429);
    expect(refused.headers['retry-after']).toBe('1');
    release();
    expect((await slow).status).toBe(200);
  });

  it('makes handheld uploads idempotent per upload id', async () => {
    const upload = {
      scanSessionId: 'walk-1',
      lat: 52.1,
      lon: 4.3,
      telegrams: [KAMSTRUP.toString('hex'), 'xx'],
    };
    const first = await post('/api/v1/handheld/uploads')
      .set('Idempotency-Key', 'up-1')
      .send(upload)
      .expect(200);
    expect(first.body).toMatchObject({ uploadId: 'up-1', accepted: 1, rejected: 1 });
    const again = await post('/api/v1/handheld/uploads')
      .set('Idempotency-Key', 'up-1')
      .send(upload)
      .expect(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(sink.sent).toHaveLength(1);
    expect(sink.sent[0]).toMatchObject({
      sourceKind: 'handheld',
      uploadId: 'up-1',
      scanSessionId: 'walk-1',
      gps: { latitude: 52.1, longitude: 4.3 },
    });
    await post('/api/v1/handheld/uploads').send(upload).expect(400);
  });

  it('parses a VW1871 reader stream upload, recording battery reports', async () => {
    const telegramB = addFrameCrcs(KAMSTRUP, 'B');
    const head = Buffer.concat([
      Buffer.from('fbfbfbf011012508', 'hex'),
      Buffer.from([1, 0, 0, 0, 0x61, 0xb0, 0x01]),
      telegramB,
    ]);
    const { crc16En13757 } = await import('@hes/wmbus');
    const crc = crc16En13757(head);
    const frame = Buffer.concat([head, Buffer.from([crc >> 8, crc & 0xff]), Buffer.from('fefe0e0f', 'hex')]);
    const battery = Buffer.concat([
      Buffer.from('\r\nBattery Volt = 3858 mV\r\n'),
      Buffer.from('fbfcfcf0120ffefe0e0f', 'hex'),
    ]);
    const response = await post('/api/v1/handheld/uploads?scanSessionId=s-9')
      .set('Idempotency-Key', 'stream-1')
      .set('Content-Type', 'application/octet-stream')
      .send(Buffer.concat([frame, battery]))
      .expect(200);
    expect(response.body).toMatchObject({ accepted: 1, batteryReports: [{ millivolts: 3858 }] });
    expect(sink.sent[0]).toMatchObject({ meterId: '66666666', signal: -80, scanSessionId: 's-9' });
  });

  it('serves health and metrics', async () => {
    await request(app.getHttpServer())
      .get('/health')
      .expect(200, { status: 'ok', checks: { kafka: { status: 'up' } } });
    await post('/api/v1/gateways/telegrams')
      .send([KAMSTRUP.toString('hex'), KAMSTRUP.toString('hex')])
      .expect(200);
    const metrics = await request(app.getHttpServer()).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/hes_telegrams_received_total\{source="gateway",app="collector"\} 2/);
    expect(metrics.text).toMatch(
      /hes_telegram_duplicates_dropped_total\{source="gateway",app="collector"\} 1/,
    );
  });
});
