import fastifyMultipart from '@fastify/multipart';
import { RequestMethod, ValidationPipe, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { TrustProxy } from '@hes/config';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { WsAdapter } from '@nestjs/platform-ws';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { Logger, PinoLogger } from 'nestjs-pino';
import pino from 'pino';
import { ApiModule, type ApiDependencies } from './api.module';
import { ApiValidationException, validationDetails } from './http/api-error';
import { ApiExceptionFilter } from './http/api-exception.filter';
import { logRequests } from './http/request-log';
import { recordRequestMetrics } from './http/request-metrics';
import { acceptTextBodies } from './http/text-body';

export const API_PREFIX = 'api/v1';

/** The trust-proxy setting in Fastify's terms, which take the same forms (hops, addresses, subnets, range names). */
function fastifyTrustProxy(trustProxy: TrustProxy | undefined): boolean | number | string[] {
  if (trustProxy === undefined) return false;
  return typeof trustProxy === 'object' ? [...trustProxy] : trustProxy;
}

/**
 * Builds the API: routes under /api/v1 (health and metrics at the root), OpenAPI at /docs and /docs-json, one
 * error format for everything, and bodies validated against their DTOs with unknown fields refused. No Nest
 * shutdown hooks: runtime.ts owns SIGTERM and closes the pool and Redis after the app.
 */
export async function createApiApp(
  deps: ApiDependencies,
): Promise<{ app: INestApplication; openApi: OpenAPIObject }> {
  const logger = pino({ level: deps.logLevel });
  const adapter = new FastifyAdapter({
    // Client addresses (audit log, rate limits) come from X-Forwarded-For only behind the configured proxies.
    trustProxy: fastifyTrustProxy(deps.trustProxy),
    // JSON bodies up to 1 MB: a full decrypt batch (1,000 telegrams of up to 512 hex digits) is about 530 kB.
    bodyLimit: 1024 * 1024,
  });
  const app = await NestFactory.create<NestFastifyApplication>(ApiModule.register(deps), adapter, {
    bufferLogs: true,
  });
  // Nest's own messages go to the same JSON lines; no per-request logger context (see request-log.ts).
  app.useLogger(new Logger(new PinoLogger({ pinoHttp: { logger } }), {}));
  const fastify = app.getHttpAdapter().getInstance();
  logRequests(fastify, logger);
  recordRequestMetrics(fastify, deps.metrics.registry);
  acceptTextBodies(fastify);
  // Multipart forms (the imports' file uploads) are parsed by the import routes themselves, after authentication,
  // under each route's own size limit (import-upload.ts).
  await app.register(fastifyMultipart);
  // Plain WebSocket (RFC 6455) for the live gateway, so any client library can connect; no socket.io protocol.
  // Its connections parse their own frames (LiveConnection), so the adapter's dispatch is given nothing to do.
  app.useWebSocketAdapter(new WsAdapter(app, { messageParser: () => undefined }));
  app.setGlobalPrefix(API_PREFIX, {
    exclude: [
      { path: 'health', method: RequestMethod.GET },
      { path: 'metrics', method: RequestMethod.GET },
    ],
  });
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      exceptionFactory: (errors) => new ApiValidationException(validationDetails(errors)),
    }),
  );
  app.useGlobalFilters(new ApiExceptionFilter());
  const openApi = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('HES API')
      .setDescription(
        'Head-end system REST API. Authenticate with a bearer access token (POST /api/v1/auth/login), an external ' +
          "identity provider's JWT, or a society API key (X-API-Key). Errors: { error: { code, message, details } }. " +
          'Live readings and events: WebSocket at /api/v1/ws (protocol in README.md, "API: live readings over WebSocket").',
      )
      .setVersion('1')
      .addBearerAuth()
      .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, 'api-key')
      .build(),
  );
  SwaggerModule.setup('docs', app, openApi, { jsonDocumentUrl: 'docs-json' });
  return { app, openApi };
}
