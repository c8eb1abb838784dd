import type { ServerResponse } from 'node:http';
import { startTime } from 'pino-http';
import { requestLogLevel, SLOW_REQUEST_MS } from './request-log';

const request = {} as Parameters<typeof requestLogLevel>[0];
const response = (statusCode: number, startedAgoMs: number) =>
  ({ statusCode, [startTime]: Date.now() - startedAgoMs }) as unknown as ServerResponse;

describe('requestLogLevel', () => {
  it('logs fast successes at debug, slow ones and client errors at info, server errors at error', () => {
    expect(requestLogLevel(request, response(200, 3))).toBe('debug');
    expect(requestLogLevel(request, response(304, 3))).toBe('debug');
    expect(requestLogLevel(request, response(200, SLOW_REQUEST_MS + 50))).toBe('info');
    for (const status of [400, 401, 403, 404, 429]) {
      expect(requestLogLevel(request, response(status, 3))).toBe('info');
    }
    expect(requestLogLevel(request, response(500, 3))).toBe('error');
    expect(requestLogLevel(request, response(200, 3), new Error('aborted'))).toBe('error');
  });
});
