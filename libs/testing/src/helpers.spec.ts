import { parseStackEnv } from './local-stack';
import { uniqueDatabaseName, uniqueName, uniqueTopicName } from './unique-names';

describe('unique names', () => {
  it('never repeats within a process and is a valid bare SQL identifier', () => {
    const names = Array.from({ length: 1000 }, () => uniqueDatabaseName('hes_spec'));
    expect(new Set(names).size).toBe(1000);
    for (const name of names.slice(0, 10)) expect(name).toMatch(/^hes_spec_\d+_[0-9a-z]+_\d+$/);
  });

  it('rejects prefixes that would not make an identifier, and names over 63 bytes', () => {
    expect(() => uniqueName('Bad-Prefix')).toThrow(/lower-case/);
    expect(() => uniqueDatabaseName('a'.repeat(60))).toThrow(/63-byte/);
  });

  it('makes Kafka topic names recognisable as test topics', () => {
    expect(uniqueTopicName('raw-telegrams')).toMatch(/^hes\.test\.raw_telegrams_\d+_/);
  });
});

describe('parseStackEnv', () => {
  it('reads the export lines of local-stack.sh and ignores anything else', () => {
    const output = [
      'export KAFKA_BROKERS=127.0.0.1:9092,127.0.0.1:9093',
      'export DATABASE_URL=postgres://postgres@127.0.0.1:5432/hes',
      'local-stack: starting Redis',
      'export lower=ignored',
    ].join('\n');
    expect(parseStackEnv(output)).toEqual({
      KAFKA_BROKERS: '127.0.0.1:9092,127.0.0.1:9093',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/hes',
    });
  });
});
