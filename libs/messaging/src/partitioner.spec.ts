import { MeterGroupPartitioner, METER_GROUP_HEADER, partitionForGroup } from './partitioner';
import type { PartitionMetadata } from 'kafkajs';

const metadata = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader: 1,
    replicas: [1],
    isr: [1],
    offlineReplicas: [],
    partitionErrorCode: 0,
  }));

describe('meter-group partitioner', () => {
  it('is the documented FNV-1a hash modulo the partition count (stable across processes)', () => {
    // FNV-1a("a") = 0xe40c292c, FNV-1a("foobar") = 0xbf9cf968 (published test vectors).
    expect(partitionForGroup('a', 1000)).toBe(0xe40c292c % 1000);
    expect(partitionForGroup('foobar', 7)).toBe(0xbf9cf968 % 7);
  });

  it('maps every message of a group to the same partition and spreads groups over partitions', () => {
    const partition = MeterGroupPartitioner();
    const seen = new Set<number>();
    for (let g = 0; g < 200; g++) {
      const group = `society-${g}`;
      const partitions = new Set(
        ['00000001', '00000002', '12345678'].map((meterId) =>
          partition({
            topic: 't',
            partitionMetadata: metadata(8),
            message: { key: meterId, value: null, headers: { [METER_GROUP_HEADER]: group } },
          }),
        ),
      );
      expect(partitions.size).toBe(1);
      seen.add([...partitions][0]);
    }
    expect(seen.size).toBe(8);
  });

  it('reads Buffer headers, honours an explicit partition and falls back to the key', () => {
    const partition = MeterGroupPartitioner();
    const args = { topic: 't', partitionMetadata: metadata(16) };
    expect(
      partition({
        ...args,
        message: { key: 'x', value: null, headers: { [METER_GROUP_HEADER]: Buffer.from('g1') } },
      }),
    ).toBe(partitionForGroup('g1', 16));
    expect(partition({ ...args, message: { key: 'x', value: null, partition: 5 } })).toBe(5);
    expect(partition({ ...args, message: { key: 'g7', value: null } })).toBe(partitionForGroup('g7', 16));
  });
});
