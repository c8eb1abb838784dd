import { Controller, Get, Header, HttpStatus, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '@hes/auth';
import { HES_METRICS, HesMetrics, checkHealth, type HealthChecks } from '@hes/metrics';
import { Registry } from 'prom-client';
import { HEALTH_CHECKS } from '../tokens';

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
    const report = await checkHealth(this.checks);
    response.status(report.status === 'ok' ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
    return report;
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
