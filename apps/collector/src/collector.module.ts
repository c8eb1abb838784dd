import { DynamicModule, Module, type Provider } from '@nestjs/common';
import { HesMetrics, MetricsModule, type HealthChecks } from '@hes/metrics';
import type { Kafka } from 'kafkajs';
import { LoggerModule } from 'nestjs-pino';
import type { CollectorSettings } from './collector-settings';
import { InFlightLimiter } from './ingest/admission';
import { TelegramDeduplicator } from './ingest/dedup';
import { MeterGroupResolver, type MeterGroupSource } from './ingest/meter-groups';
import { MetricsIngestObserver } from './ingest/metrics-observer';
import { IngestPipeline, type EnvelopeSink, type MeterSocietySource } from './ingest/pipeline';
import { ApiKeyGuard, type CollectorAuditLog } from './http/api-key.guard';
import { ApiKeyVerifier, type GatewayCredentialSource } from './http/api-key-verifier';
import { GatewayTelegramsController } from './http/gateway-telegrams.controller';
import { HandheldUploadsController, type HandheldUploadStore } from './http/handheld-uploads.controller';
import { HealthController } from './http/health.controller';
import { MqttIngestService, type MqttIngestSettings } from './mqtt/mqtt-ingest.service';
import {
  COLLECTOR_AUDIT,
  COLLECTOR_SETTINGS,
  HANDHELD_UPLOAD_STORE,
  HEALTH_CHECKS,
  KAFKA_CLIENT,
  KAFKA_READY,
  MQTT_SETTINGS,
} from './tokens';

/** Everything the collector talks to, built by main.ts (or a test) and handed in ready to use. */
export interface CollectorDependencies {
  settings: CollectorSettings;
  metrics: HesMetrics;
  logLevel: string;
  /** The raw-topic producer (acks = all, idempotent, partitioned by meter group). */
  sink: EnvelopeSink;
  meterGroups: MeterGroupSource;
  /** Which meters a society API key may not feed (registered outside its society). */
  meterSocieties: MeterSocietySource;
  credentials: GatewayCredentialSource;
  /** Where refused API keys are recorded, with the client address. */
  audit: CollectorAuditLog;
  uploads: HandheldUploadStore;
  healthChecks: HealthChecks;
  /** Present when the collector subscribes to gateways over MQTT. */
  mqtt?: { kafka: Kafka; settings: MqttIngestSettings; kafkaReady: Promise<void> };
}

const API_KEY_CACHE_ENTRIES = 100_000;

@Module({})
export class CollectorModule {
  static register(deps: CollectorDependencies): DynamicModule {
    const { settings } = deps;
    const pipeline = new IngestPipeline({
      sink: deps.sink,
      groups: new MeterGroupResolver(deps.meterGroups, {
        defaultGroup: settings.defaultMeterGroup,
        refreshMs: settings.meterGroupRefreshMs,
        maxEntries: settings.meterGroupCacheEntries,
      }),
      dedup: new TelegramDeduplicator({
        windowMs: settings.dedupWindowMs,
        maxEntries: settings.dedupMaxEntries,
      }),
      limiter: new InFlightLimiter({
        maxInFlightMessages: settings.maxInFlightMessages,
        maxInFlightBytes: settings.maxInFlightBytes,
      }),
      observer: new MetricsIngestObserver(deps.metrics),
      meterSocieties: deps.meterSocieties,
      itemOptions: { maxFutureSkewMs: settings.maxFutureSkewMs, maxTelegramBytes: MAX_TELEGRAM_BYTES },
    });
    const providers: Provider[] = [
      { provide: IngestPipeline, useValue: pipeline },
      { provide: COLLECTOR_SETTINGS, useValue: settings },
      { provide: HANDHELD_UPLOAD_STORE, useValue: deps.uploads },
      {
        provide: ApiKeyVerifier,
        useValue: new ApiKeyVerifier(deps.credentials, {
          cacheMs: settings.apiKeyCacheMs,
          maxEntries: API_KEY_CACHE_ENTRIES,
        }),
      },
      { provide: COLLECTOR_AUDIT, useValue: deps.audit },
      ApiKeyGuard,
    ];
    if (deps.mqtt) {
      providers.push(
        { provide: KAFKA_CLIENT, useValue: deps.mqtt.kafka },
        { provide: MQTT_SETTINGS, useValue: deps.mqtt.settings },
        { provide: KAFKA_READY, useValue: deps.mqtt.kafkaReady },
        MqttIngestService,
        {
          provide: HEALTH_CHECKS,
          useFactory: (mqtt: MqttIngestService): HealthChecks => ({
            ...deps.healthChecks,
            mqtt: async () => {
              if (!mqtt.connected) throw new Error('not connected to the MQTT broker');
            },
          }),
          inject: [MqttIngestService],
        },
      );
    } else {
      providers.push({ provide: HEALTH_CHECKS, useValue: deps.healthChecks });
    }
    return {
      module: CollectorModule,
      imports: [
        MetricsModule.forRoot(deps.metrics),
        // JSON lines on stdout; request logs without headers so API keys never reach the log.
        LoggerModule.forRoot({
          pinoHttp: {
            level: deps.logLevel,
            serializers: {
              req: (req: { method: string; url: string }) => ({ method: req.method, url: req.url }),
            },
          },
        }),
      ],
      controllers: [GatewayTelegramsController, HandheldUploadsController, HealthController],
      providers,
      exports: [IngestPipeline],
    };
  }
}

/** Format A with all CRCs for L = 255 is 290 bytes; anything longer is not a wM-Bus telegram. */
const MAX_TELEGRAM_BYTES = 300;
