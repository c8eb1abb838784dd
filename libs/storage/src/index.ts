export * from './dialect';
export * from './event-writer';
export * from './maintenance';
export * from './migrate';
export * from './pool';
export * from './reading';
export * from './reading-writer';
export * from './repositories';
