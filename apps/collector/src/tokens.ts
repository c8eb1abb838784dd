/** Injection tokens for the collector's non-class providers. */
export const COLLECTOR_SETTINGS = Symbol('COLLECTOR_SETTINGS');
export const KAFKA_CLIENT = Symbol('KAFKA_CLIENT');
export const PG_POOL = Symbol('PG_POOL');
export const HANDHELD_UPLOAD_STORE = Symbol('HANDHELD_UPLOAD_STORE');
export const MQTT_SETTINGS = Symbol('MQTT_SETTINGS');
export const HEALTH_CHECKS = Symbol('HEALTH_CHECKS');
/** Where the API-key guard records refused keys (CollectorAuditLog). */
export const COLLECTOR_AUDIT = Symbol('COLLECTOR_AUDIT');
/** Promise<void> resolving once Kafka is connected and the topics exist; MQTT ingest waits for it. */
export const KAFKA_READY = Symbol('KAFKA_READY');
