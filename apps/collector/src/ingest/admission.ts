/**
 * Bounds what the collector holds in memory while waiting for Kafka acks. A request that would exceed
 * the bounds is refused at once (the caller answers 429 with Retry-After) instead of queueing: a
 * queue in front of a slow broker only moves the unbounded buffer somewhere else.
 */
export interface AdmissionLimits {
  maxInFlightMessages: number;
  maxInFlightBytes: number;
}

export interface AdmissionTicket {
  release(): void;
}

export class InFlightLimiter {
  private messages = 0;
  private bytes = 0;

  constructor(private readonly limits: AdmissionLimits) {}

  get inFlightMessages(): number {
    return this.messages;
  }

  get inFlightBytes(): number {
    return this.bytes;
  }

  /** Reserves capacity, or returns undefined when the request must be refused. */
  tryAcquire(messages: number, bytes: number): AdmissionTicket | undefined {
    // An empty collector always admits one request, however large, so an oversized batch still
    // makes progress instead of being refused forever.
    const idle = this.messages === 0 && this.bytes === 0;
    if (
      !idle &&
      (this.messages + messages > this.limits.maxInFlightMessages ||
        this.bytes + bytes > this.limits.maxInFlightBytes)
    ) {
      return undefined;
    }
    this.messages += messages;
    this.bytes += bytes;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.messages -= messages;
        this.bytes -= bytes;
      },
    };
  }
}
