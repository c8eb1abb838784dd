import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { CollectorModule, type CollectorDependencies } from './collector.module';
import { IngestErrorFilter } from './http/ingest-error.filter';

/**
 * Builds the collector's HTTP application. No global body parser: the guard authenticates before any
 * body is read, and each endpoint reads its body itself, bounded (JSON) or streamed (NDJSON, VW1871).
 * No Nest shutdown hooks: runtime.ts owns SIGTERM, because after the app closes it still has to
 * disconnect the producer and the database pool in order.
 */
export async function createCollectorApp(deps: CollectorDependencies): Promise<INestApplication> {
  const app = await NestFactory.create(CollectorModule.register(deps), {
    bodyParser: false,
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  const express = app.getHttpAdapter().getInstance() as { set(name: string, value: unknown): void };
  // Client addresses (audit log) come from X-Forwarded-For only behind the configured proxies.
  express.set('trust proxy', deps.settings.trustProxy);
  // No ETag: Express hashes every response body for one, including the per-item results of each ingest POST,
  // and nothing here is ever answered 304.
  express.set('etag', false);
  app.useGlobalFilters(
    new IngestErrorFilter({
      unavailable: deps.settings.retryAfterUnavailableSeconds,
      overloaded: deps.settings.retryAfterOverloadedSeconds,
    }),
  );
  return app;
}
