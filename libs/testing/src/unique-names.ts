/**
 * Names for databases, topics, consumer groups and key prefixes that do not collide between test files,
 * parallel jest workers, or several checkouts testing against the same local services.
 */
let sequence = 0;

/** `<prefix>_<pid>_<time>_<seq>`: lower case, digits and underscores only, so it is a valid bare SQL identifier. */
export function uniqueName(prefix: string): string {
  if (!/^[a-z][a-z0-9_]*$/.test(prefix)) {
    throw new Error(`uniqueName: prefix '${prefix}' must be lower-case letters, digits and underscores`);
  }
  sequence += 1;
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${sequence}`;
}

/** A PostgreSQL database name (at most 63 bytes). */
export function uniqueDatabaseName(prefix = 'hes_test'): string {
  const name = uniqueName(prefix);
  if (name.length > 63) {
    throw new Error(
      `uniqueDatabaseName: '${name}' is longer than PostgreSQL's 63-byte limit; use a shorter prefix`,
    );
  }
  return name;
}

/** A Kafka topic (or consumer group) name; dots are legal in Kafka names and keep test topics recognisable. */
export function uniqueTopicName(prefix = 'test'): string {
  return `hes.test.${uniqueName(prefix.replace(/[^a-z0-9_]/g, '_'))}`;
}
