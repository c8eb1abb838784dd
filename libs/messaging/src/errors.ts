/** A message on a topic (or about to be produced) is malformed. `field` names the offending field. */
export class MessageValidationError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'MessageValidationError';
  }
}

/**
 * The Kafka cluster could not durably accept the messages (broker down, unreachable, or not acknowledging in
 * time). Nothing in the failed call may be assumed written; callers answer 503 / retry later.
 */
export class BrokerUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BrokerUnavailableError';
  }
}

/** The producer already holds its maximum of not-yet-acknowledged messages; callers answer 429. */
export class ProducerOverloadedError extends Error {
  constructor(readonly pendingMessages: number) {
    super(`producer has ${pendingMessages} messages waiting for acknowledgement; try again shortly`);
    this.name = 'ProducerOverloadedError';
  }
}
