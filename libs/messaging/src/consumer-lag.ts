import type { Admin } from 'kafkajs';

export interface PartitionLag {
  topic: string;
  partition: number;
  /** Next offset the group will read; null when the group has never committed on this partition. */
  committedOffset: string | null;
  lowWatermark: string;
  highWatermark: string;
  /** Messages in the log the group has not committed yet. */
  lag: number;
  /**
   * Messages the group had not consumed that the broker already deleted (committed offset below the log
   * start after retention). Non-zero means data was lost to retention before it was processed.
   */
  lostToRetention: number;
}

export interface ConsumerLag {
  groupId: string;
  total: number;
  partitions: PartitionLag[];
}

/**
 * Consumer lag from committed offsets vs the partitions' high watermarks. Uses only OffsetFetch and
 * ListOffsets (admin.fetchOffsets + admin.fetchTopicOffsets), which every Kafka-protocol broker supports,
 * rather than DescribeGroups. A partition without a committed offset counts from the log start, which is
 * where a `fromBeginning` consumer starts (for a latest-offset consumer that overstates lag until its first
 * commit).
 */
export async function computeConsumerLag(
  admin: Admin,
  groupId: string,
  topics: string[],
): Promise<ConsumerLag> {
  const [committed, ...watermarks] = await Promise.all([
    admin.fetchOffsets({ groupId, topics }),
    ...topics.map((topic) => admin.fetchTopicOffsets(topic)),
  ]);
  const committedBy = new Map<string, string>();
  for (const topic of committed) {
    for (const p of topic.partitions) committedBy.set(`${topic.topic}/${p.partition}`, p.offset);
  }
  const partitions: PartitionLag[] = [];
  topics.forEach((topic, i) => {
    for (const w of watermarks[i]) {
      const high = BigInt(w.high);
      const low = BigInt(w.low);
      const raw = committedBy.get(`${topic}/${w.partition}`);
      const committedOffset = raw !== undefined && BigInt(raw) >= 0n ? raw : null;
      const start = committedOffset === null ? low : BigInt(committedOffset);
      const from = start < low ? low : start;
      partitions.push({
        topic,
        partition: w.partition,
        committedOffset,
        lowWatermark: w.low,
        highWatermark: w.high,
        lag: Number(high > from ? high - from : 0n),
        lostToRetention: Number(low > start ? low - start : 0n),
      });
    }
  });
  partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  return { groupId, total: partitions.reduce((sum, p) => sum + p.lag, 0), partitions };
}

export interface RetentionLoss {
  topic: string;
  partition: number;
  /** Messages newly found deleted before the group committed them. */
  lost: number;
  /** First offset of the lost range (inclusive) and the log start after it (exclusive). */
  fromOffset: string;
  toOffset: string;
}

/**
 * Counts messages lost to retention once each. Every lag sample taken while the group's committed offset is
 * below the log start reports the same gap again, until the consumer moves past it; this remembers per
 * partition up to which offset losses were already reported.
 */
export class RetentionLossTracker {
  private readonly reportedUpTo = new Map<string, bigint>();

  observe(partitions: readonly PartitionLag[]): RetentionLoss[] {
    const losses: RetentionLoss[] = [];
    for (const p of partitions) {
      if (p.lostToRetention === 0 || p.committedOffset === null) continue;
      const key = `${p.topic}/${p.partition}`;
      const committed = BigInt(p.committedOffset);
      const reported = this.reportedUpTo.get(key) ?? committed;
      const from = reported > committed ? reported : committed;
      const low = BigInt(p.lowWatermark);
      if (low <= from) continue;
      this.reportedUpTo.set(key, low);
      losses.push({
        topic: p.topic,
        partition: p.partition,
        lost: Number(low - from),
        fromOffset: from.toString(),
        toOffset: low.toString(),
      });
    }
    return losses;
  }
}
