import { Controller, DynamicModule, Get, Header, Inject, Module } from '@nestjs/common';
import { Registry } from 'prom-client';
import { HesMetrics, HesMetricsOptions } from './hes-metrics';

/** Injection token of the process's HesMetrics instance. */
export const HES_METRICS = Symbol('HES_METRICS');

@Controller()
class MetricsController {
  constructor(@Inject(HES_METRICS) private readonly metrics: HesMetrics) {}

  @Get('metrics')
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  @Header('Cache-Control', 'no-store')
  scrape(): Promise<string> {
    return this.metrics.scrape();
  }
}

/**
 * Serves GET /metrics and provides HesMetrics (token HES_METRICS) to the whole application. Pass an existing
 * instance to share it with code created outside Nest, or options to have the module create one.
 */
@Module({})
export class MetricsModule {
  static forRoot(source: HesMetrics | HesMetricsOptions): DynamicModule {
    const metrics = source instanceof HesMetrics ? source : new HesMetrics(source);
    return {
      module: MetricsModule,
      global: true,
      controllers: [MetricsController],
      providers: [{ provide: HES_METRICS, useValue: metrics }],
      exports: [HES_METRICS],
    };
  }
}
