import { RequestMethod, ValidationPipe, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WsAdapter } from '@nestjs/platform-ws';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { ApiModule, type ApiDependencies } from './api.module';
import { ApiValidationException, validationDetails } from './http/api-error';
import { ApiExceptionFilter } from './http/api-exception.filter';

export const API_PREFIX = 'api/v1';

/**
 * Builds the API: routes under /api/v1 (health and metrics at the root), OpenAPI at /docs and /docs-json, one
 * error format for everything, and bodies validated against their DTOs with unknown fields refused. No Nest
 * shutdown hooks: runtime.ts owns SIGTERM and closes the pool and Redis after the app.
 */
export async function createApiApp(
  deps: ApiDependencies,
): Promise<{ app: INestApplication; openApi: OpenAPIObject }> {
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.register(deps), {
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  // Client addresses (audit log, rate limits) come from X-Forwarded-For only behind the configured proxies.
  app.set('trust proxy', deps.trustProxy ?? false);
  // No ETag: express hashes every response body for it, and readings answers change with every new reading, so
  // a conditional GET would rarely save anything. No X-Powered-By: it only tells scanners what we run.
  app.set('etag', false);
  app.disable('x-powered-by');
  // JSON bodies up to 1 MB: a full decrypt batch (1,000 telegrams of up to 512 hex digits) is about 530 kB.
  app.useBodyParser('json', { limit: '1mb' });
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
