import { Controller, Get, Header, HttpStatus, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '@hes/auth';
import { HES_METRICS, HesMetrics } from '@hes/metrics';
import { Registry } from 'prom-client';
import { HEALTH_CHECKS } from '../tokens';

/** A dependency probe: resolves when the dependency answers, rejects (or times out) otherwise. */
export type HealthChecks = Record<string, () => Promise<void>>;

const CHECK_TIMEOUT_MS = 2000;

/** Unauthenticated operational endpoints, outside /api/v1: load balancers and Prometheus call them. */
@ApiTags('operations')
@Controller()
export class OperationsController {
  constructor(
    @Inject(HEALTH_CHECKS) private readonly checks: HealthChecks,
    @Inject(HES_METRICS) private readonly metrics: HesMetrics,
  ) {}

  /** 200 when every dependency (database, Redis) answers, 503 naming those that do not. */
  @Public()
  @Get('health')
  @ApiOkResponse({
    description: '{ status: ok, checks: { database: { status: up }, redis: { status: up } } }',
  })
  @ApiServiceUnavailableResponse({ description: 'a dependency is down; checks name it and why' })
  async health(@Res({ passthrough: true }) response: { status(code: number): unknown }) {
    const entries = await Promise.all(
      Object.entries(this.checks).map(async ([name, probe]) => [name, await runProbe(probe)] as const),
    );
    const healthy = entries.every(([, result]) => result.status === 'up');
    response.status(healthy ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
    return { status: healthy ? 'ok' : 'unavailable', checks: Object.fromEntries(entries) };
  }

  @Public()
  @Get('metrics')
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  @Header('Cache-Control', 'no-store')
  @ApiOkResponse({ description: 'Prometheus text format' })
  scrape(): Promise<string> {
    return this.metrics.scrape();
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
