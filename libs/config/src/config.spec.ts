import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { Inject, Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ConfigError, ConfigModule, HES_CONFIG, HesConfig, loadConfig } from './index';

const KEY_HEX = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';

function issuesOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.map((i) => `${i.variable}: ${i.message}`);
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig defaults', () => {
  it('matches the local stack with an empty environment', () => {
    const config = loadConfig({});
    expect(config.nodeEnv).toBe('development');
    expect(config.logLevel).toBe('info');
    expect(config.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(config.kafka.clientId).toBe('hes');
    expect(config.kafka.topics.rawTelegrams).toEqual({
      name: 'hes.telegrams.raw',
      partitions: 12,
      replicationFactor: 1,
    });
    expect(config.kafka.topics.readings.name).toBe('hes.readings');
    expect(config.kafka.topics.events.name).toBe('hes.events');
    expect(config.kafka.topics.deadLetters.name).toBe('hes.dead-letters');
    expect(config.kafka.topics.commands).toEqual({
      name: 'hes.commands',
      partitions: 1,
      replicationFactor: 1,
    });
    expect(config.database).toEqual({
      url: 'postgres://postgres@127.0.0.1:5432/hes',
      dialect: 'auto',
      rawRetentionDays: 90,
    });
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.mqtt).toEqual({ url: 'mqtt://127.0.0.1:1883', topic: 'hes/gw/+/telegrams' });
    expect(config.ports).toEqual({ collector: 8080, decryptor: 8081, api: 3000 });
    expect(config.decryptor.poolSize).toBeGreaterThanOrEqual(1);
    expect(config.masterKey).toBeUndefined();
  });

  it('is deeply frozen', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.kafka.brokers)).toBe(true);
    expect(Object.isFrozen(config.kafka.topics.readings)).toBe(true);
    expect(() => {
      (config.ports as { api: number }).api = 1;
    }).toThrow(TypeError);
  });

  it('applies overrides, prefix, per-topic names and partitions, and treats empty strings as unset', () => {
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'DEBUG',
      KAFKA_BROKERS: 'kafka-1:9092, kafka-2:9092,[::1]:9094',
      KAFKA_TOPIC_PREFIX: 'site1.',
      KAFKA_TOPIC_READINGS: 'custom-readings',
      KAFKA_PARTITIONS: '24',
      KAFKA_TOPIC_RAW_TELEGRAMS_PARTITIONS: '48',
      KAFKA_REPLICATION_FACTOR: '3',
      STORAGE_DIALECT: 'timescaledb',
      RAW_RETENTION_DAYS: '30',
      API_PORT: '',
      DECRYPTOR_POOL_SIZE: '3',
    });
    expect(config.logLevel).toBe('debug');
    expect(config.kafka.brokers).toEqual(['kafka-1:9092', 'kafka-2:9092', '[::1]:9094']);
    expect(config.kafka.topics.rawTelegrams).toEqual({
      name: 'site1.telegrams.raw',
      partitions: 48,
      replicationFactor: 3,
    });
    expect(config.kafka.topics.readings).toEqual({
      name: 'custom-readings',
      partitions: 24,
      replicationFactor: 3,
    });
    expect(config.kafka.topics.commands.partitions).toBe(1);
    expect(config.database.dialect).toBe('timescaledb');
    expect(config.database.rawRetentionDays).toBe(30);
    expect(config.ports.api).toBe(3000);
    expect(config.decryptor.poolSize).toBe(3);
  });
});

describe('loadConfig validation errors name the variable and the reason', () => {
  it.each([
    [{ KAFKA_BROKERS: 'x' }, "KAFKA_BROKERS: 'x' is not host:port"],
    [{ KAFKA_BROKERS: 'a:9092,b:99999' }, "KAFKA_BROKERS: 'b:99999' is not host:port"],
    [{ API_PORT: 'abc' }, "API_PORT: 'abc' is not an integer in 1..65535"],
    [{ COLLECTOR_PORT: '0' }, "COLLECTOR_PORT: '0' is not an integer in 1..65535"],
    [{ RAW_RETENTION_DAYS: '1.5' }, "RAW_RETENTION_DAYS: '1.5' is not an integer in 1..36500"],
    [{ STORAGE_DIALECT: 'mysql' }, "STORAGE_DIALECT: 'mysql' is not one of auto, timescaledb, postgres"],
    [{ LOG_LEVEL: 'loud' }, "LOG_LEVEL: 'loud' is not one of fatal, error, warn, info, debug, trace, silent"],
    [{ NODE_ENV: 'prod' }, "NODE_ENV: 'prod' is not one of development, test, production"],
    [
      { DATABASE_URL: 'mysql://db/hes' },
      "DATABASE_URL: 'mysql://db/hes' must start with postgres:// or postgresql://",
    ],
    [{ REDIS_URL: 'not a url' }, "REDIS_URL: 'not a url' is not a URL"],
    [{ MQTT_URL: 'http://broker' }, 'MQTT_URL: '],
    [{ MQTT_TOPIC: 'hes/gw+/telegrams' }, "MQTT_TOPIC: 'hes/gw+/telegrams' is not an MQTT topic filter"],
    [{ MQTT_TOPIC: 'hes/#/telegrams' }, 'MQTT_TOPIC: '],
    [{ KAFKA_TOPIC_EVENTS: 'bad/name' }, "KAFKA_TOPIC_EVENTS: 'bad/name' is not a Kafka topic name"],
    [{ KAFKA_TOPIC_PREFIX: 'a b' }, "KAFKA_TOPIC_PREFIX: 'a b' may only use"],
    [{ KAFKA_REPLICATION_FACTOR: '0' }, "KAFKA_REPLICATION_FACTOR: '0' is not an integer in 1..32"],
    [
      { API_PORT: '8080' },
      'COLLECTOR_PORT: COLLECTOR_PORT, DECRYPTOR_PORT and API_PORT must differ (8080, 8081, 8080)',
    ],
  ])('%j', (env, expected) => {
    const issues = issuesOf(env);
    expect(issues).toHaveLength(1);
    expect(issues[0].startsWith(expected)).toBe(true);
  });

  it('reports every invalid variable at once', () => {
    expect(
      issuesOf({ KAFKA_BROKERS: 'x', API_PORT: '-1', STORAGE_DIALECT: 'oracle' }).map((i) => i.split(':')[0]),
    ).toEqual(['KAFKA_BROKERS', 'STORAGE_DIALECT', 'API_PORT']);
  });

  it('hides a database password in its error', () => {
    const [issue] = issuesOf({ DATABASE_URL: 'mysql://hes:s3cret@db/hes' });
    expect(issue).not.toContain('s3cret');
    expect(issue).toContain('mysql://hes:***@db/hes');
  });
});

describe('master key', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hes-config-spec-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is required in production', () => {
    expect(issuesOf({ NODE_ENV: 'production' })).toEqual([
      'HES_MASTER_KEY: required when NODE_ENV=production (or HES_MASTER_KEY_FILE)',
    ]);
  });

  it('reads 64 hex characters from HES_MASTER_KEY', () => {
    const config = loadConfig({ NODE_ENV: 'production', HES_MASTER_KEY: KEY_HEX });
    expect(config.masterKey?.bytes()).toEqual(Buffer.from(KEY_HEX, 'hex'));
  });

  it('reads the file named by HES_MASTER_KEY_FILE, ignoring a trailing newline', () => {
    const file = join(dir, 'master.key');
    writeFileSync(file, `${KEY_HEX}\n`);
    expect(loadConfig({ HES_MASTER_KEY_FILE: file }).masterKey?.bytes().toString('hex')).toBe(KEY_HEX);
  });

  it('rejects a malformed key without echoing any of it', () => {
    const [issue] = issuesOf({ HES_MASTER_KEY: 'deadbeef' + 'zz'.repeat(28) });
    expect(issue).toBe('HES_MASTER_KEY: the value must be 64 hex characters (32 bytes), got 64 characters');
    expect(issue).not.toContain('deadbeef');
  });

  it('names a missing key file and rejects setting both sources', () => {
    expect(issuesOf({ HES_MASTER_KEY_FILE: join(dir, 'missing.key') })).toEqual([
      `HES_MASTER_KEY_FILE: cannot read '${join(dir, 'missing.key')}' (ENOENT)`,
    ]);
    expect(issuesOf({ HES_MASTER_KEY: KEY_HEX, HES_MASTER_KEY_FILE: join(dir, 'master.key') })).toEqual([
      'HES_MASTER_KEY: set either HES_MASTER_KEY or HES_MASTER_KEY_FILE, not both',
    ]);
  });

  it('never shows up when the configuration is logged', () => {
    const config = loadConfig({ HES_MASTER_KEY: KEY_HEX });
    for (const rendering of [JSON.stringify(config), inspect(config, { depth: 10 }), `${config.masterKey}`]) {
      expect(rendering).not.toContain(KEY_HEX.slice(0, 16));
      expect(rendering).not.toContain('ABEiM0RVZneImaq7zN3u'); // base64 of the first bytes
    }
    expect(JSON.stringify(config)).toContain('[redacted secret key]');
  });

  it('hands out copies, so a caller wiping its buffer does not wipe the key', () => {
    const key = loadConfig({ HES_MASTER_KEY: KEY_HEX }).masterKey!;
    key.bytes().fill(0);
    expect(key.bytes().toString('hex')).toBe(KEY_HEX);
  });
});

describe('ConfigModule', () => {
  @Injectable()
  class NeedsConfig {
    constructor(@Inject(HES_CONFIG) readonly config: HesConfig) {}
  }

  it('provides the loaded configuration under HES_CONFIG to any module', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot({ API_PORT: '3100' })],
      providers: [NeedsConfig],
    }).compile();
    expect(moduleRef.get(NeedsConfig).config.ports.api).toBe(3100);
  });

  it('fails at start-up on an invalid environment', () => {
    expect(() => ConfigModule.forRoot({ KAFKA_BROKERS: 'nope' })).toThrow(
      "KAFKA_BROKERS: 'nope' is not host:port",
    );
  });
});
