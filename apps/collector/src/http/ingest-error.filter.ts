import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { BrokerUnavailableError, ProducerOverloadedError } from '@hes/messaging';
import type { ServerResponse } from 'node:http';
import { MeterRegistryUnavailableError } from '../ingest/meter-groups';
import { CollectorOverloadedError } from '../ingest/pipeline';

export interface RetryAfterSeconds {
  unavailable: number;
  overloaded: number;
}

/**
 * Turns "the batch could not be stored now" into 503/429 with Retry-After, so gateways back off and
 * retry instead of the collector buffering without bound; everything else keeps Nest's mapping.
 */
@Catch()
export class IngestErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('IngestErrorFilter');

  constructor(private readonly retryAfter: RetryAfterSeconds) {}

  catch(error: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<ServerResponse>();
    if (response.headersSent) {
      response.end();
      return;
    }
    if (error instanceof CollectorOverloadedError || error instanceof ProducerOverloadedError) {
      this.send(
        response,
        HttpStatus.TOO_MANY_REQUESTS,
        'overloaded',
        error.message,
        this.retryAfter.overloaded,
      );
      return;
    }
    if (error instanceof BrokerUnavailableError || error instanceof MeterRegistryUnavailableError) {
      this.logger.warn(error.message);
      this.send(
        response,
        HttpStatus.SERVICE_UNAVAILABLE,
        'unavailable',
        error.message,
        this.retryAfter.unavailable,
      );
      return;
    }
    if (error instanceof HttpException) {
      const status = error.getStatus();
      if (status === HttpStatus.SERVICE_UNAVAILABLE)
        response.setHeader('Retry-After', String(this.retryAfter.unavailable));
      writeJson(response, status, error.getResponse());
      return;
    }
    this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    writeJson(response, HttpStatus.INTERNAL_SERVER_ERROR, { statusCode: 500, message: 'internal error' });
  }

  private send(
    response: ServerResponse,
    status: number,
    error: string,
    message: string,
    retryAfter: number,
  ): void {
    response.setHeader('Retry-After', String(retryAfter));
    writeJson(response, status, { statusCode: status, error, message });
  }
}

function writeJson(response: ServerResponse, status: number, body: unknown): void {
  response.statusCode = status;
  response.setHeader('Content-Type', 'application/json; charset=utf-8');
  response.end(JSON.stringify(body));
}
