export * from './cipher';
export * from './meter-key';
export * from './store';
export * from './api-key';
