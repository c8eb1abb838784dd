import { BrokerUnavailableError } from './errors';

/** kafkajs error classes that mean "the cluster could not be reached or did not answer in time". */
const UNAVAILABLE_ERROR_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSLockTimeout',
  'KafkaJSTimeout',
  'KafkaJSGroupCoordinatorNotFound',
]);

/** Protocol error types that are a cluster-health problem rather than a bad request. */
const UNAVAILABLE_PROTOCOL_TYPES = new Set([
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_ENOUGH_REPLICAS',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'REQUEST_TIMED_OUT',
  'NETWORK_EXCEPTION',
  'COORDINATOR_NOT_AVAILABLE',
  'BROKER_NOT_AVAILABLE',
]);

function isUnavailable(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 5) return false;
  if (error instanceof BrokerUnavailableError || UNAVAILABLE_ERROR_NAMES.has(error.name)) return true;
  const type = (error as { type?: unknown }).type;
  if (typeof type === 'string' && UNAVAILABLE_PROTOCOL_TYPES.has(type)) return true;
  const nested = (error as { originalError?: unknown; cause?: unknown }).originalError ?? error.cause;
  return isUnavailable(nested, depth + 1);
}

/** Converts a kafkajs failure into BrokerUnavailableError when it means the cluster is down or unreachable. */
export function toBrokerError(error: unknown, action: string): unknown {
  if (error instanceof BrokerUnavailableError) return error;
  if (isUnavailable(error)) {
    return new BrokerUnavailableError(
      `Kafka unavailable while trying to ${action}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return error;
}
