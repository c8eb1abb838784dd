import { connectAsync, type MqttClient } from 'mqtt';
import type { SimulationTally } from '../tally';
import { backoffMs, type RetryPolicy, type SimGateway, type Transport } from '../transport';
import { itemJson, type WireItem } from '../wire-item';

/**
 * Publishes each batch as one JSON array to the gateway's topic (`hes/gw/<gatewayId>/telegrams` by
 * default) with QoS 1. A publisher only learns that the broker took the message, not the collector's
 * verdict, so items count as published, not accepted.
 */
export class MqttTransport implements Transport {
  readonly name = 'mqtt';

  private constructor(
    private readonly client: MqttClient,
    private readonly topicOf: (gatewayId: string) => string,
    private readonly tally: SimulationTally,
    private readonly retry: RetryPolicy,
  ) {}

  /** `topicFilter` is the collector's subscription (e.g. `hes/gw/+/telegrams`); the `+` level takes the gateway id. */
  static async connect(
    url: string,
    topicFilter: string,
    tally: SimulationTally,
    retry: RetryPolicy,
  ): Promise<MqttTransport> {
    const levels = topicFilter.split('/');
    const slot = levels.indexOf('+');
    if (slot < 0 || levels.indexOf('+', slot + 1) >= 0 || levels.includes('#')) {
      throw new Error(
        `MQTT topic "${topicFilter}" needs exactly one "+" level (for the gateway id) and no "#"`,
      );
    }
    const client = await connectAsync(url, { clientId: `hes-simulate-${process.pid}-${Date.now()}` });
    const topicOf = (gatewayId: string) =>
      levels.map((level, i) => (i === slot ? gatewayId : level)).join('/');
    return new MqttTransport(client, topicOf, tally, retry);
  }

  async send(gateway: SimGateway, items: WireItem[]): Promise<void> {
    const payload = `[${items.map((item) => itemJson(item, gateway.id)).join(',')}]`;
    const started = this.retry.now();
    for (let attempt = 0; ; attempt++) {
      try {
        this.tally.requests++;
        await this.client.publishAsync(this.topicOf(gateway.id), payload, { qos: 1 });
        for (const item of items) this.tally.publishedItem(item);
        return;
      } catch (error) {
        const waitMs = backoffMs(attempt);
        if (this.retry.now() + waitMs - started > this.retry.maxRetryMs) {
          this.tally.notDelivered(items.length, `MQTT publish failed: ${(error as Error).message}`);
          return;
        }
        this.tally.retries++;
        await this.retry.sleep(waitMs);
      }
    }
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
