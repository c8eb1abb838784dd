import type { Admin } from 'kafkajs';

/** The product's topics. Names come from configuration; `defaultTopicNames` gives the conventional ones. */
export interface TopicNames {
  /** TelegramEnvelope (binary), partitioned by meter group. */
  rawTelegrams: string;
  /** ReadingsMessage (JSON), partitioned by meter group. */
  readings: string;
  /** EventMessage (JSON), partitioned by meter group. */
  events: string;
  /** DeadLetterMessage (JSON): anything that could not be processed, with its original bytes. */
  deadLetters: string;
  /** CommandMessage (JSON): control-plane instructions to running services. */
  commands: string;
}

export function defaultTopicNames(prefix = 'hes.'): TopicNames {
  return {
    rawTelegrams: `${prefix}telegrams.raw`,
    readings: `${prefix}readings`,
    events: `${prefix}events`,
    deadLetters: `${prefix}dead-letters`,
    commands: `${prefix}commands`,
  };
}

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  replicationFactor: number;
  /** Broker-side topic configs, e.g. retention.ms. */
  configEntries?: { name: string; value: string }[];
}

export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
  /**
   * Existing topics whose partition count differs from the spec. They are reported, not altered: adding
   * partitions would move meter groups to other partitions and break per-meter ordering while old data drains.
   */
  partitionMismatches: { topic: string; expected: number; actual: number }[];
}

/**
 * Creates the topics that do not exist yet, through the admin API exactly as on a production cluster.
 * Safe to run from every instance at start-up: a concurrent creator's TOPIC_ALREADY_EXISTS is tolerated.
 */
export async function ensureTopics(admin: Admin, specs: TopicSpec[]): Promise<EnsureTopicsResult> {
  for (const spec of specs) {
    if (!Number.isInteger(spec.numPartitions) || spec.numPartitions < 1) {
      throw new Error(`topic ${spec.topic}: numPartitions must be a positive integer`);
    }
    if (!Number.isInteger(spec.replicationFactor) || spec.replicationFactor < 1) {
      throw new Error(`topic ${spec.topic}: replicationFactor must be a positive integer`);
    }
  }
  const present = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !present.has(s.topic));
  if (missing.length > 0) {
    // false means every missing topic was created concurrently by another instance: fine either way.
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((s) => ({
        topic: s.topic,
        numPartitions: s.numPartitions,
        replicationFactor: s.replicationFactor,
        configEntries: s.configEntries,
      })),
    });
  }
  const existing = specs.filter((s) => present.has(s.topic));
  const partitionMismatches: EnsureTopicsResult['partitionMismatches'] = [];
  if (existing.length > 0) {
    const metadata = await admin.fetchTopicMetadata({ topics: existing.map((s) => s.topic) });
    for (const topic of metadata.topics) {
      const expected = specs.find((s) => s.topic === topic.name)?.numPartitions;
      if (expected !== undefined && expected !== topic.partitions.length) {
        partitionMismatches.push({ topic: topic.name, expected, actual: topic.partitions.length });
      }
    }
  }
  return {
    created: missing.map((s) => s.topic),
    existing: existing.map((s) => s.topic),
    partitionMismatches,
  };
}
