export * from './cluster-metrics';
export * from './health';
export * from './hes-metrics';
export * from './metrics-handler';
export * from './metrics.module';
