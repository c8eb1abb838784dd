import { ConfigError, loadConfig } from './config';

describe('live WebSocket gateway settings', () => {
  it('defaults to 10 messages/s per connection and bounded queues, buffers and backfills', () => {
    expect(loadConfig({}).api.websocket).toEqual({
      maxMessagesPerSecond: 10,
      authTimeoutMs: 5000,
      maxBufferedBytes: 8_388_608,
      maxQueuedItems: 200_000,
      backfillLimit: 10_000,
      membershipRefreshMs: 30_000,
      maxSubscriptions: 1000,
    });
  });

  it('reads WS_* variables and names each invalid one', () => {
    const websocket = loadConfig({ WS_MAX_MESSAGES_PER_SECOND: '4', WS_BACKFILL_LIMIT: '500' }).api.websocket;
    expect(websocket.maxMessagesPerSecond).toBe(4);
    expect(websocket.backfillLimit).toBe(500);
    let error: ConfigError | undefined;
    try {
      loadConfig({ WS_MAX_MESSAGES_PER_SECOND: '0', WS_AUTH_TIMEOUT_MS: 'soon' });
    } catch (thrown) {
      error = thrown as ConfigError;
    }
    expect(error?.issues).toEqual([
      { variable: 'WS_MAX_MESSAGES_PER_SECOND', message: "'0' is not an integer in 1..1000" },
      { variable: 'WS_AUTH_TIMEOUT_MS', message: "'soon' is not an integer in 100..60000" },
    ]);
  });
});
