import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { SecretKey } from './secret-key';
import { parseTrustProxy, type TrustProxy } from './trust-proxy';

/**
 * The HES configuration: one validated, frozen object built from environment variables, with defaults that
 * match scripts/local-stack.sh so a local run needs no variables at all. README.md lists every variable.
 */

export type NodeEnv = 'development' | 'test' | 'production';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type StorageDialect = 'auto' | 'timescaledb' | 'postgres';

export interface TopicConfig {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
}

export interface HesTopics {
  /** TelegramEnvelope records from the collectors, keyed by meter group. */
  readonly rawTelegrams: TopicConfig;
  readonly readings: TopicConfig;
  readonly events: TopicConfig;
  readonly deadLetters: TopicConfig;
  readonly commands: TopicConfig;
}

export interface HesConfig {
  readonly nodeEnv: NodeEnv;
  readonly logLevel: LogLevel;
  readonly kafka: {
    readonly brokers: readonly string[];
    readonly clientId: string;
    readonly topicPrefix: string;
    readonly topics: HesTopics;
  };
  readonly database: {
    readonly url: string;
    readonly dialect: StorageDialect;
    readonly rawRetentionDays: number;
  };
  readonly redis: { readonly url: string };
  readonly mqtt: { readonly url: string; readonly topic: string };
  /** 32-byte key that encrypts meter keys at rest; required in production, absent locally unless configured. */
  readonly masterKey: SecretKey | undefined;
  readonly ports: { readonly collector: number; readonly decryptor: number; readonly api: number };
  readonly decryptor: { readonly poolSize: number };
  readonly api: ApiConfig;
}

/** External identity provider whose bearer JWTs the API accepts next to its own (all three set, or none). */
export interface OidcConfig {
  readonly issuer: string;
  readonly jwksUrl: string;
  readonly audience: string;
  /** Claim holding the HES role (platform_admin, society_admin, field_operator, viewer). */
  readonly roleClaim: string;
  /** Claim holding the society ids the subject belongs to (array of strings). */
  readonly societiesClaim: string;
}

export interface ApiConfig {
  /**
   * API processes on this host sharing API_PORT (a node:cluster primary forks them when more than 1), so one host
   * uses several cores; more hosts are replicas behind a load balancer.
   */
  readonly workers: number;
  readonly jwt: {
    /** HS256 signing secret of access tokens; required in production (a random one per process otherwise). */
    readonly secret: SecretKey | undefined;
    readonly issuer: string;
    readonly accessTokenTtlSeconds: number;
    readonly refreshTokenTtlSeconds: number;
  };
  readonly oidc: OidcConfig | undefined;
  /** How long a society invitation's one-time token stays valid. */
  readonly invitationTtlSeconds: number;
  readonly rateLimit: {
    /** Requests per minute per user / API key (per client address when unauthenticated). */
    readonly requestsPerMinute: number;
    /** Login attempts per minute per client address. */
    readonly loginAttemptsPerMinute: number;
  };
  readonly websocket: WebSocketConfig;
  /** Proxies whose X-Forwarded-For gives the client address (audit log, rate limits); off by default. */
  readonly trustProxy: TrustProxy;
}

/** The live WebSocket gateway (`/api/v1/ws`): per-connection limits and how subscriptions are kept current. */
export interface WebSocketConfig {
  /** Messages per second at most per connection; readings in between are coalesced to the latest per meter+quantity. */
  readonly maxMessagesPerSecond: number;
  /** How long a connection without an Authorization header has to send its `auth` message. */
  readonly authTimeoutMs: number;
  /** A connection whose unsent socket buffer grows past this is a slow consumer and is closed. */
  readonly maxBufferedBytes: number;
  /** Events and distinct meter+quantity readings waiting for the next flush, at most, before the connection is closed. */
  readonly maxQueuedItems: number;
  /** Stored readings (and, separately, events) sent at most when a subscription asks for `since`. */
  readonly backfillLimit: number;
  /** How often the meters behind each subscription (society, group, meter) are re-read from the database. */
  readonly membershipRefreshMs: number;
  /** Subscriptions per connection, at most. */
  readonly maxSubscriptions: number;
}

export interface ConfigIssue {
  readonly variable: string;
  readonly message: string;
}

/** Every problem found, each naming its variable; the message lists them all so one run shows everything. */
export class ConfigError extends Error {
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(`invalid configuration: ${issues.map((i) => `${i.variable}: ${i.message}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const TOPIC_KEYS = {
  rawTelegrams: { variable: 'RAW_TELEGRAMS', suffix: 'telegrams.raw', partitions: 'data' },
  readings: { variable: 'READINGS', suffix: 'readings', partitions: 'data' },
  events: { variable: 'EVENTS', suffix: 'events', partitions: 'data' },
  deadLetters: { variable: 'DEAD_LETTERS', suffix: 'dead-letters', partitions: 'data' },
  commands: { variable: 'COMMANDS', suffix: 'commands', partitions: 'control' },
} as const;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const NODE_ENVS: readonly NodeEnv[] = ['development', 'test', 'production'];
const DIALECTS: readonly StorageDialect[] = ['auto', 'timescaledb', 'postgres'];

/** Kafka's legal topic names: 1..249 of [a-zA-Z0-9._-], not "." or "..". */
const KAFKA_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** Reads a variable; empty strings count as unset (compose files and CI often pass `VAR=`). */
function read(env: Env, variable: string): string | undefined {
  const value = env[variable];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/**
 * Collects issues instead of throwing at the first one. Each parser returns a placeholder on failure so
 * the remaining variables are still checked; the placeholder never escapes because loadConfig throws.
 */
class EnvReader {
  readonly issues: ConfigIssue[] = [];

  constructor(private readonly env: Env) {}

  fail<T>(variable: string, message: string, placeholder: T): T {
    this.issues.push({ variable, message });
    return placeholder;
  }

  string(variable: string, fallback: string): string {
    return read(this.env, variable) ?? fallback;
  }

  optional(variable: string): string | undefined {
    return read(this.env, variable);
  }

  oneOf<T extends string>(variable: string, allowed: readonly T[], fallback: T): T {
    const value = read(this.env, variable);
    if (value === undefined) return fallback;
    const normalised = value.toLowerCase() as T;
    if (allowed.includes(normalised)) return normalised;
    return this.fail(variable, `'${value}' is not one of ${allowed.join(', ')}`, fallback);
  }

  int(variable: string, min: number, max: number, fallback: number): number {
    const value = read(this.env, variable);
    if (value === undefined) return fallback;
    const parsed = z
      .string()
      .regex(/^[+-]?\d+$/)
      .transform(Number)
      .pipe(z.number().int().min(min).max(max))
      .safeParse(value);
    if (parsed.success) return parsed.data;
    return this.fail(variable, `'${value}' is not an integer in ${min}..${max}`, fallback);
  }

  url(variable: string, protocols: readonly string[], fallback: string): string {
    const value = read(this.env, variable) ?? fallback;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return this.fail(variable, `'${redactUrl(value)}' is not a URL`, fallback);
    }
    if (!protocols.includes(url.protocol)) {
      const expected = protocols.map((p) => `${p}//`).join(' or ');
      return this.fail(variable, `'${redactUrl(value)}' must start with ${expected}`, fallback);
    }
    if (!url.hostname) return this.fail(variable, `'${redactUrl(value)}' has no host`, fallback);
    return value;
  }
}

/** Hides a password in a URL that is about to appear in an error message. */
function redactUrl(value: string): string {
  return value.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1***@');
}

function parseBrokers(reader: EnvReader): string[] {
  const value = reader.string('KAFKA_BROKERS', '127.0.0.1:9092');
  const brokers = value.split(',').map((b) => b.trim());
  for (const broker of brokers) {
    const match = /^(\[[0-9a-fA-F:]+\]|[a-zA-Z0-9.-]+):(\d{1,5})$/.exec(broker);
    if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) {
      return reader.fail('KAFKA_BROKERS', `'${broker}' is not host:port`, []);
    }
  }
  return brokers;
}

/** MQTT subscription filter: '+' only as a whole level, '#' only as the whole last level. */
function parseMqttTopic(reader: EnvReader): string {
  const fallback = 'hes/gw/+/telegrams';
  const value = reader.string('MQTT_TOPIC', fallback);
  const levels = value.split('/');
  const valid = levels.every(
    (level, i) =>
      (level === '#' && i === levels.length - 1) ||
      level === '+' ||
      !(level.includes('+') || level.includes('#')),
  );
  if (!valid) {
    return reader.fail(
      'MQTT_TOPIC',
      `'${value}' is not an MQTT topic filter ('+' and '#' must be whole levels, '#' last)`,
      fallback,
    );
  }
  return value;
}

function parseMasterKey(reader: EnvReader, nodeEnv: NodeEnv): SecretKey | undefined {
  const inline = reader.optional('HES_MASTER_KEY');
  const file = reader.optional('HES_MASTER_KEY_FILE');
  if (inline !== undefined && file !== undefined) {
    return reader.fail(
      'HES_MASTER_KEY',
      'set either HES_MASTER_KEY or HES_MASTER_KEY_FILE, not both',
      undefined,
    );
  }
  let hex: string | undefined = inline;
  let variable = 'HES_MASTER_KEY';
  if (file !== undefined) {
    variable = 'HES_MASTER_KEY_FILE';
    try {
      hex = readFileSync(file, 'utf8').trim();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      return reader.fail(variable, `cannot read '${file}' (${code})`, undefined);
    }
  }
  if (hex === undefined) {
    if (nodeEnv === 'production') {
      return reader.fail(
        'HES_MASTER_KEY',
        'required when NODE_ENV=production (or HES_MASTER_KEY_FILE)',
        undefined,
      );
    }
    return undefined;
  }
  // The value is a secret: the message describes it without echoing any of it.
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    const source = variable === 'HES_MASTER_KEY_FILE' ? `the content of '${file}'` : 'the value';
    return reader.fail(
      variable,
      `${source} must be 64 hex characters (32 bytes), got ${hex.length} characters`,
      undefined,
    );
  }
  return new SecretKey(Buffer.from(hex, 'hex'));
}

function parseTopics(reader: EnvReader, prefix: string, replicationFactor: number): HesTopics {
  const dataPartitions = reader.int('KAFKA_PARTITIONS', 1, 10_000, 12);
  const controlPartitions = reader.int('KAFKA_COMMANDS_PARTITIONS', 1, 10_000, 1);
  const topics = {} as Record<keyof HesTopics, TopicConfig>;
  for (const [key, spec] of Object.entries(TOPIC_KEYS) as [
    keyof HesTopics,
    (typeof TOPIC_KEYS)[keyof HesTopics],
  ][]) {
    const nameVariable = `KAFKA_TOPIC_${spec.variable}`;
    const name = reader.string(nameVariable, `${prefix}${spec.suffix}`);
    if (!KAFKA_NAME.test(name) || name === '.' || name === '..') {
      reader.fail(
        nameVariable,
        `'${name}' is not a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)`,
        undefined,
      );
    }
    const partitions =
      spec.partitions === 'data'
        ? reader.int(`${nameVariable}_PARTITIONS`, 1, 10_000, dataPartitions)
        : controlPartitions;
    topics[key] = Object.freeze({ name, partitions, replicationFactor });
  }
  return Object.freeze(topics);
}

const MIN_JWT_SECRET_CHARS = 32;
/** A bound that catches typos (API_WORKERS=1000); a host with more cores than this runs more replicas instead. */
const MAX_API_WORKERS = 64;

function parseApi(reader: EnvReader): ApiConfig {
  const secretText = reader.optional('API_JWT_SECRET');
  let secret: SecretKey | undefined;
  // Optional here because only the API needs it; the API refuses to start without one in production.
  if (secretText !== undefined && secretText.length < MIN_JWT_SECRET_CHARS) {
    // A secret: described by its length only.
    reader.fail(
      'API_JWT_SECRET',
      `must be at least ${MIN_JWT_SECRET_CHARS} characters, got ${secretText.length}`,
      undefined,
    );
  } else if (secretText !== undefined) {
    secret = new SecretKey(Buffer.from(secretText, 'utf8'));
  }
  const oidcIssuer = reader.optional('OIDC_ISSUER');
  const oidcJwksUrl = reader.optional('OIDC_JWKS_URL');
  const oidcAudience = reader.optional('OIDC_AUDIENCE');
  let oidc: OidcConfig | undefined;
  const oidcSet = [oidcIssuer, oidcJwksUrl, oidcAudience].filter((v) => v !== undefined).length;
  if (oidcSet > 0 && oidcSet < 3) {
    reader.fail(
      'OIDC_ISSUER',
      'set OIDC_ISSUER, OIDC_JWKS_URL and OIDC_AUDIENCE together, or none',
      undefined,
    );
  } else if (oidcSet === 3) {
    oidc = Object.freeze({
      issuer: oidcIssuer as string,
      jwksUrl: reader.url('OIDC_JWKS_URL', ['https:', 'http:'], 'http://invalid'),
      audience: oidcAudience as string,
      roleClaim: reader.string('OIDC_ROLE_CLAIM', 'hes_role'),
      societiesClaim: reader.string('OIDC_SOCIETIES_CLAIM', 'hes_societies'),
    });
  }
  return Object.freeze({
    workers: reader.int('API_WORKERS', 1, MAX_API_WORKERS, 1),
    jwt: Object.freeze({
      secret,
      issuer: reader.string('API_JWT_ISSUER', 'hes'),
      accessTokenTtlSeconds: reader.int('API_ACCESS_TOKEN_TTL_SECONDS', 30, 86_400, 900),
      refreshTokenTtlSeconds: reader.int('API_REFRESH_TOKEN_TTL_SECONDS', 300, 31_536_000, 2_592_000),
    }),
    oidc,
    invitationTtlSeconds: reader.int('API_INVITATION_TTL_SECONDS', 300, 2_592_000, 604_800),
    rateLimit: Object.freeze({
      requestsPerMinute: reader.int('API_RATE_LIMIT_PER_MINUTE', 1, 1_000_000, 600),
      loginAttemptsPerMinute: reader.int('API_LOGIN_RATE_LIMIT_PER_MINUTE', 1, 10_000, 10),
    }),
    websocket: Object.freeze({
      maxMessagesPerSecond: reader.int('WS_MAX_MESSAGES_PER_SECOND', 1, 1000, 10),
      authTimeoutMs: reader.int('WS_AUTH_TIMEOUT_MS', 100, 60_000, 5000),
      maxBufferedBytes: reader.int('WS_MAX_BUFFERED_BYTES', 65_536, 1_073_741_824, 8_388_608),
      maxQueuedItems: reader.int('WS_MAX_QUEUED_ITEMS', 100, 10_000_000, 200_000),
      backfillLimit: reader.int('WS_BACKFILL_LIMIT', 1, 1_000_000, 10_000),
      membershipRefreshMs: reader.int('WS_MEMBERSHIP_REFRESH_MS', 1000, 3_600_000, 30_000),
      maxSubscriptions: reader.int('WS_MAX_SUBSCRIPTIONS', 1, 100_000, 1000),
    }),
    trustProxy: readTrustProxy(reader, 'API_TRUST_PROXY'),
  });
}

function readTrustProxy(reader: EnvReader, variable: string): TrustProxy {
  const text = reader.optional(variable);
  if (text === undefined) return false;
  const parsed = parseTrustProxy(text);
  return parsed.ok ? parsed.value : reader.fail(variable, parsed.message, false);
}

function defaultPoolSize(): number {
  return Math.max(1, availableParallelism() - 1);
}

/**
 * Builds the configuration from `env` (process.env by default).
 * @throws ConfigError naming every invalid variable and why, e.g. "KAFKA_BROKERS: 'x' is not host:port".
 */
export function loadConfig(env: Env = process.env): HesConfig {
  const reader = new EnvReader(env);
  const nodeEnv = reader.oneOf('NODE_ENV', NODE_ENVS, 'development');
  const brokers = parseBrokers(reader);
  const clientId = reader.string('KAFKA_CLIENT_ID', 'hes');
  if (!KAFKA_NAME.test(clientId))
    reader.fail('KAFKA_CLIENT_ID', `'${clientId}' may only use a-z A-Z 0-9 . _ -`, '');
  const requestedPrefix = reader.string('KAFKA_TOPIC_PREFIX', 'hes.');
  // An invalid prefix is reported once; topic names are then checked with the default prefix.
  const topicPrefix = /^[a-zA-Z0-9._-]*$/.test(requestedPrefix)
    ? requestedPrefix
    : reader.fail('KAFKA_TOPIC_PREFIX', `'${requestedPrefix}' may only use a-z A-Z 0-9 . _ -`, 'hes.');
  const replicationFactor = reader.int('KAFKA_REPLICATION_FACTOR', 1, 32, 1);

  const config: HesConfig = {
    nodeEnv,
    logLevel: reader.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    kafka: Object.freeze({
      brokers: Object.freeze(brokers),
      clientId,
      topicPrefix,
      topics: parseTopics(reader, topicPrefix, replicationFactor),
    }),
    database: Object.freeze({
      url: reader.url('DATABASE_URL', ['postgres:', 'postgresql:'], 'postgres://postgres@127.0.0.1:5432/hes'),
      dialect: reader.oneOf('STORAGE_DIALECT', DIALECTS, 'auto'),
      rawRetentionDays: reader.int('RAW_RETENTION_DAYS', 1, 36_500, 90),
    }),
    redis: Object.freeze({ url: reader.url('REDIS_URL', ['redis:', 'rediss:'], 'redis://127.0.0.1:6379') }),
    mqtt: Object.freeze({
      url: reader.url('MQTT_URL', ['mqtt:', 'mqtts:', 'ws:', 'wss:'], 'mqtt://127.0.0.1:1883'),
      topic: parseMqttTopic(reader),
    }),
    masterKey: parseMasterKey(reader, nodeEnv),
    ports: Object.freeze({
      collector: reader.int('COLLECTOR_PORT', 1, 65_535, 8080),
      decryptor: reader.int('DECRYPTOR_PORT', 1, 65_535, 8081),
      api: reader.int('API_PORT', 1, 65_535, 3000),
    }),
    decryptor: Object.freeze({ poolSize: reader.int('DECRYPTOR_POOL_SIZE', 1, 256, defaultPoolSize()) }),
    api: parseApi(reader),
  };

  const ports = config.ports;
  if (new Set([ports.collector, ports.decryptor, ports.api]).size < 3) {
    reader.fail(
      'COLLECTOR_PORT',
      `COLLECTOR_PORT, DECRYPTOR_PORT and API_PORT must differ (${ports.collector}, ${ports.decryptor}, ${ports.api})`,
      0,
    );
  }
  if (reader.issues.length > 0) throw new ConfigError(reader.issues);
  return Object.freeze(config);
}
