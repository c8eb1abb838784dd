import { Controller, Get, HttpStatus, Inject, Res } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { checkHealth, type HealthChecks } from '@hes/metrics';
import { HEALTH_CHECKS } from '../tokens';

/** GET /health: 200 when every dependency (Kafka, database, MQTT) answers, 503 naming those that do not. */
@Controller()
export class HealthController {
  constructor(@Inject(HEALTH_CHECKS) private readonly checks: HealthChecks) {}

  @Get('health')
  async health(@Res({ passthrough: true }) response: ServerResponse) {
    const report = await checkHealth(this.checks);
    response.statusCode = report.status === 'ok' ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE;
    return report;
  }
}
