export * from './keys';
export * from './reading-cache';
