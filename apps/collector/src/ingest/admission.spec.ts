import { InFlightLimiter } from './admission';

describe('InFlightLimiter', () => {
  it('refuses a request that would exceed the message or byte bound and admits again after release', () => {
    const limiter = new InFlightLimiter({ maxInFlightMessages: 10, maxInFlightBytes: 1000 });
    const first = limiter.tryAcquire(6, 100);
    expect(first).toBeDefined();
    expect(limiter.tryAcquire(5, 100)).toBeUndefined();
    expect(limiter.tryAcquire(1, 901)).toBeUndefined();
    const second = limiter.tryAcquire(4, 900);
    expect(second).toBeDefined();
    first!.release();
    first!.release();
    expect(limiter.inFlightMessages).toBe(4);
    expect(limiter.inFlightBytes).toBe(900);
    second!.release();
    expect(limiter.inFlightMessages).toBe(0);
  });

  it('admits one oversized request when nothing is in flight, so it is not starved forever', () => {
    const limiter = new InFlightLimiter({ maxInFlightMessages: 10, maxInFlightBytes: 1000 });
    const big = limiter.tryAcquire(50, 5000);
    expect(big).toBeDefined();
    expect(limiter.tryAcquire(1, 1)).toBeUndefined();
  });
});
