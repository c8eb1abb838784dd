import Fastify from 'fastify';
import pino from 'pino';
import { logRequests, requestLogLevel, SLOW_REQUEST_MS } from './request-log';

describe('requestLogLevel', () => {
  it('logs fast successes at debug, slow ones and client errors at info, server errors at error', () => {
    expect(requestLogLevel(200, 3)).toBe('debug');
    expect(requestLogLevel(304, 3)).toBe('debug');
    expect(requestLogLevel(200, SLOW_REQUEST_MS + 50)).toBe('info');
    for (const status of [400, 401, 403, 404, 429]) {
      expect(requestLogLevel(status, 3)).toBe('info');
    }
    expect(requestLogLevel(500, 3)).toBe('error');
    expect(requestLogLevel(503, SLOW_REQUEST_MS + 50)).toBe('error');
  });
});

describe('logRequests', () => {
  it('writes one line per request at its level, with method, URL, status and time only', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const app = Fastify();
    logRequests(app, logger);
    app.get('/fast', async () => 'ok');
    app.get('/missing', async (_request, reply) => reply.code(404).send('no'));
    app.get('/broken', async (_request, reply) => reply.code(500).send('no'));
    for (const url of ['/fast', '/missing?x=1', '/broken']) {
      await app.inject({ url, headers: { authorization: 'Bearer secret-token' } });
    }
    await app.close();
    expect(lines.map(({ level, req, res, msg }) => ({ level, req, res, msg }))).toEqual([
      {
        level: 30,
        req: { method: 'GET', url: '/missing?x=1' },
        res: { statusCode: 404 },
        msg: 'request completed',
      },
      {
        level: 50,
        req: { method: 'GET', url: '/broken' },
        res: { statusCode: 500 },
        msg: 'request completed',
      },
    ]);
    expect(lines.every((line) => typeof line.responseTime === 'number')).toBe(true);
    expect(JSON.stringify(lines)).not.toContain('secret-token');
  });
});
