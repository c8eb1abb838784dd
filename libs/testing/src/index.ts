export { uniqueName, uniqueDatabaseName, uniqueTopicName } from './unique-names';
export { createTestDatabase } from './test-database';
export type { TestDatabase } from './test-database';
export { ensureLocalStack, parseStackEnv } from './local-stack';
export { startKafkaMock, findFreePortRange, kafkaMockLauncherPath } from './kafka-mock';
export type { KafkaMockProcess, KafkaMockOptions } from './kafka-mock';
export { buildEntryPoints } from './build-entry-points';
export type { EntryPointBuild } from './build-entry-points';
