import { Controller, Get, HttpStatus, Inject, Res } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { HEALTH_CHECKS } from '../tokens';

/** A dependency probe: resolves when the dependency answers, rejects (or times out) otherwise. */
export type HealthChecks = Record<string, () => Promise<void>>;

const CHECK_TIMEOUT_MS = 2000;

/** GET /health: 200 when every dependency (Kafka, database, MQTT) answers, 503 naming those that do not. */
@Controller()
export class HealthController {
  constructor(@Inject(HEALTH_CHECKS) private readonly checks: HealthChecks) {}

  @Get('health')
  async health(@Res({ passthrough: true }) response: ServerResponse) {
    const entries = await Promise.all(
      Object.entries(this.checks).map(async ([name, probe]) => [name, await runProbe(probe)] as const),
    );
    const checks = Object.fromEntries(entries);
    const healthy = entries.every(([, result]) => result.status === 'up');
    response.statusCode = healthy ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE;
    return { status: healthy ? 'ok' : 'unavailable', checks };
  }
}

async function runProbe(probe: () => Promise<void>): Promise<{ status: 'up' | 'down'; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)),
          CHECK_TIMEOUT_MS,
        );
      }),
    ]);
    return { status: 'up' };
  } catch (error) {
    return { status: 'down', error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
