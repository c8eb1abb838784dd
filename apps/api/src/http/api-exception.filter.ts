import {
  Catch,
  HttpException,
  HttpStatus,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import { AuthenticationError } from '@hes/auth';
import { ERROR_CODES, errorBody, type ApiErrorResponse } from './api-error';

/** PostgreSQL errors that are the client's doing, answered as such instead of 500. */
const PG_CLIENT_ERRORS: Readonly<Record<string, { status: number; code: string; message: string }>> = {
  '23505': {
    status: HttpStatus.CONFLICT,
    code: 'conflict',
    message: 'a resource with these values already exists',
  },
  '23503': {
    status: HttpStatus.CONFLICT,
    code: 'conflict',
    message: 'the change conflicts with related resources',
  },
};

/** The part of Fastify's reply the filter uses. */
interface ErrorReply {
  sent: boolean;
  status(code: number): { send(body: unknown): void };
}

function isApiErrorResponse(value: unknown): value is ApiErrorResponse {
  const error = (value as { error?: unknown } | null)?.error;
  return (
    typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string'
  );
}

/**
 * The status of an error Fastify or one of its plugins raised about the client's request (a FastifyError with a
 * 4xx status code, e.g. a multipart form cut short); its message describes the request, not the server.
 */
function fastifyClientErrorStatus(exception: unknown): number | undefined {
  if (!(exception instanceof Error) || exception.name !== 'FastifyError') return undefined;
  const { statusCode } = exception as { statusCode?: unknown };
  return typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500 ? statusCode : undefined;
}

/**
 * Turns every exception into `{ error: { code, message, details } }`. HTTP exceptions keep their status and
 * message; anything else is logged with its stack and answered 500 with a fixed message, so no stack trace, SQL
 * or internal detail reaches a client.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ApiExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<ErrorReply>();
    const { status, body } = this.translate(exception);
    if (reply.sent) return;
    reply.status(status).send(body);
  }

  private translate(exception: unknown): { status: number; body: ApiErrorResponse } {
    if (exception instanceof AuthenticationError) {
      return { status: HttpStatus.UNAUTHORIZED, body: errorBody('unauthorized', exception.message) };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const payload = exception.getResponse();
      if (isApiErrorResponse(payload)) return { status, body: payload };
      const code = ERROR_CODES[status] ?? (status >= 500 ? 'internal' : 'error');
      if (status >= 500) {
        this.logger.error({ err: exception }, 'request failed');
        return { status, body: errorBody(code, exception.message) };
      }
      const message = typeof payload === 'string' ? payload : (payload as { message?: unknown }).message;
      const text = Array.isArray(message)
        ? message.join('; ')
        : typeof message === 'string'
          ? message
          : exception.message;
      return { status, body: errorBody(code, text) };
    }
    const clientStatus = fastifyClientErrorStatus(exception);
    if (clientStatus !== undefined) {
      const code = ERROR_CODES[clientStatus] ?? 'bad_request';
      return { status: clientStatus, body: errorBody(code, (exception as Error).message) };
    }
    const pgCode = (exception as { code?: unknown } | null)?.code;
    if (typeof pgCode === 'string' && PG_CLIENT_ERRORS[pgCode]) {
      const known = PG_CLIENT_ERRORS[pgCode];
      const constraint = (exception as { constraint?: unknown }).constraint;
      const details = typeof constraint === 'string' ? [{ field: constraint, message: known.message }] : [];
      return { status: known.status, body: errorBody(known.code, known.message, details) };
    }
    this.logger.error({ err: exception }, 'unhandled error');
    return {
      status: HttpStatus.INTERNAL_SERVER_ERROR,
      body: errorBody('internal', 'internal server error'),
    };
  }
}
