/** Injection tokens of the API's infrastructure, built by runtime.ts (or a test) and handed to ApiModule. */
export const PG_POOL = Symbol('PG_POOL');
export const REDIS = Symbol('REDIS');
export const HEALTH_CHECKS = Symbol('HEALTH_CHECKS');
export const COMMANDS = Symbol('COMMANDS');
