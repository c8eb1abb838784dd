import type { ICustomPartitioner, IHeaders } from 'kafkajs';

/** Header carrying the meter group on every partitioned message; the partitioner reads it. */
export const METER_GROUP_HEADER = 'hes-meter-group';

/**
 * Maps a meter group to a partition: FNV-1a (32-bit) of the group's UTF-8 bytes modulo the partition count.
 *
 * Why this keeps a meter's telegrams in order: a meter belongs to one group, so all its telegrams carry the
 * same group, hash to the same partition, and Kafka preserves order within a partition; the idempotent
 * producer (one request in flight, sequence numbers) keeps retries from reordering them. Grouping by meter
 * group rather than by meter also keeps a society/tower's meters together, so one consumer sees a whole
 * group (useful for group-level aggregation and for the per-group live channels).
 *
 * Stable means: the same group maps to the same partition in every process and across restarts, as long
 * as the partition count is unchanged. Changing a topic's partition count remaps groups; that is why
 * ensureTopics only reports a mismatch instead of adding partitions. When a meter is moved to another group
 * its later telegrams go to the new group's partition; ordering across that move is not guaranteed.
 */
export function partitionForGroup(group: string, partitionCount: number): number {
  let hash = 0x811c9dc5;
  const bytes = Buffer.from(group, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i];
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitionCount;
}

function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined) return undefined;
  return typeof first === 'string' ? first : first.toString('utf8');
}

/**
 * kafkajs partitioner using the meter-group header. An explicit `partition` on the message wins; a message
 * without the header is placed by its key with the same hash, so keyed messages still keep their order.
 */
export const MeterGroupPartitioner: ICustomPartitioner =
  () =>
  ({ partitionMetadata, message }) => {
    if (typeof message.partition === 'number') return message.partition;
    const group = headerText(message.headers, METER_GROUP_HEADER);
    const key = group ?? (message.key == null ? '' : message.key.toString());
    return partitionForGroup(key, partitionMetadata.length);
  };
