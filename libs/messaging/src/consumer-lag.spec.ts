import { PartitionLag, RetentionLossTracker } from './consumer-lag';

function sample(committedOffset: string | null, lowWatermark: string, highWatermark = '1000'): PartitionLag {
  const committed = committedOffset === null ? BigInt(lowWatermark) : BigInt(committedOffset);
  const low = BigInt(lowWatermark);
  return {
    topic: 'raw',
    partition: 3,
    committedOffset,
    lowWatermark,
    highWatermark,
    lag: Number(BigInt(highWatermark) - (committed > low ? committed : low)),
    lostToRetention: Number(low > committed ? low - committed : 0n),
  };
}

describe('RetentionLossTracker', () => {
  it('reports a gap once however often it is sampled, and only the growth after that', () => {
    const tracker = new RetentionLossTracker();
    expect(tracker.observe([sample('100', '0')])).toEqual([]);
    expect(tracker.observe([sample('100', '250')])).toEqual([
      { topic: 'raw', partition: 3, lost: 150, fromOffset: '100', toOffset: '250' },
    ]);
    expect(tracker.observe([sample('100', '250')])).toEqual([]);
    expect(tracker.observe([sample('100', '300')])).toEqual([
      { topic: 'raw', partition: 3, lost: 50, fromOffset: '250', toOffset: '300' },
    ]);
    // The consumer moved on past the log start; a later trim below its position loses nothing.
    expect(tracker.observe([sample('400', '350')])).toEqual([]);
    expect(tracker.observe([sample('400', '420')])).toEqual([
      { topic: 'raw', partition: 3, lost: 20, fromOffset: '400', toOffset: '420' },
    ]);
  });

  it('counts nothing for a group that never committed (it starts at the log start)', () => {
    expect(new RetentionLossTracker().observe([sample(null, '500')])).toEqual([]);
  });
});
