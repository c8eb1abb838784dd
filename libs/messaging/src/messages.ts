import { z } from 'zod';
import { MessageValidationError } from './errors';

/**
 * The smaller messages that follow a decoded telegram. They are JSON (`v` = format version): their rates are
 * a fraction of the raw telegram rate, they are read by tools outside the pipeline (MDM exports, kcat), and
 * JSON keeps them inspectable. Every decode validates with a schema and reports the first bad field by path.
 */
export const MESSAGE_VERSION = 1;

const sourceKind = z.enum(['gateway', 'handheld', 'mqtt']);
const MIN_EPOCH_MS = Date.UTC(2000, 0, 1);
const MAX_EPOCH_MS = Date.UTC(2100, 0, 1);
const epochMs = z.number().int().min(MIN_EPOCH_MS).max(MAX_EPOCH_MS);
const text = z.string().min(1);

const readingValue = z.object({
  quantity: text,
  storage: z.number().int().min(0),
  tariff: z.number().int().min(0),
  unit: z.string(),
  value: z.number().refine(Number.isFinite, 'must be finite'),
});

/** The readings decoded from one telegram. */
const readingsMessage = z.object({
  v: z.literal(MESSAGE_VERSION),
  meterId: text,
  meterGroup: text,
  manufacturer: text,
  /** The envelope's receivedAt — the readings' natural-key timestamp, fixed at ingest so replays are idempotent. */
  ts: epochMs,
  source: sourceKind,
  sourceId: text,
  readings: z.array(readingValue).min(1),
});

const eventMessage = z.object({
  v: z.literal(MESSAGE_VERSION),
  meterId: text,
  meterGroup: text,
  ts: epochMs,
  kind: text,
  details: z.record(z.string(), z.unknown()),
});

/** Why a message left the pipeline, with the original bytes so it can be replayed once the cause is fixed. */
const deadLetterMessage = z.object({
  v: z.literal(MESSAGE_VERSION),
  reasonCode: text,
  message: text,
  field: z.string().optional(),
  source: z.object({ kind: sourceKind, id: text }),
  meterId: z.string().optional(),
  origin: z
    .object({ topic: text, partition: z.number().int().min(0), offset: z.string().regex(/^\d+$/) })
    .optional(),
  failedAt: epochMs,
  /** base64 of the original bytes (a telegram, an envelope, or an MQTT payload). */
  original: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64'),
});

/** Control-plane instructions to running services (e.g. reload keys after a change made elsewhere). */
const commandMessage = z.object({
  v: z.literal(MESSAGE_VERSION),
  commandId: text,
  kind: text,
  issuedAt: epochMs,
  target: z.string().optional(),
  params: z.record(z.string(), z.unknown()),
});

export type ReadingValue = z.infer<typeof readingValue>;
export type ReadingsMessage = z.infer<typeof readingsMessage>;
export type EventMessage = z.infer<typeof eventMessage>;
export type DeadLetterMessage = z.infer<typeof deadLetterMessage>;
export type CommandMessage = z.infer<typeof commandMessage>;

function codec<T>(schema: z.ZodType<T>) {
  const parse = (value: unknown): T => {
    const result = schema.safeParse(value);
    if (!result.success) {
      const issue = result.error.issues[0];
      const field = issue.path.length > 0 ? issue.path.map(String).join('.') : 'message';
      throw new MessageValidationError(field, issue.message);
    }
    return result.data;
  };
  return {
    encode(message: T): Buffer {
      return Buffer.from(JSON.stringify(parse(message)), 'utf8');
    },
    decode(bytes: Buffer): T {
      let value: unknown;
      try {
        value = JSON.parse(bytes.toString('utf8'));
      } catch {
        throw new MessageValidationError('message', 'not valid JSON');
      }
      return parse(value);
    },
  };
}

const readingsCodec = codec(readingsMessage);
const eventCodec = codec(eventMessage);
const deadLetterCodec = codec(deadLetterMessage);
const commandCodec = codec(commandMessage);

/**
 * The readings message of one decoded telegram, as JSON. It is checked with plain comparisons and written
 * field by field in the schema's order rather than parsed through the schema again (one message per
 * telegram: the schema pass cost as much as the rest of the produce); the bytes are those of the schema's
 * output (keys in schema order, unknown keys left out). A message the checks do not accept goes through
 * the schema, which reports the first bad field.
 */
export function encodeReadings(message: ReadingsMessage): Buffer {
  if (!isValidReadings(message)) return readingsCodec.encode(message);
  let json =
    `{"v":${MESSAGE_VERSION},"meterId":${JSON.stringify(message.meterId)},` +
    `"meterGroup":${JSON.stringify(message.meterGroup)},"manufacturer":${JSON.stringify(message.manufacturer)},` +
    `"ts":${message.ts},"source":"${message.source}","sourceId":${JSON.stringify(message.sourceId)},"readings":[`;
  message.readings.forEach((r, i) => {
    json +=
      `${i > 0 ? ',' : ''}{"quantity":${JSON.stringify(r.quantity)},"storage":${r.storage},` +
      `"tariff":${r.tariff},"unit":${JSON.stringify(r.unit)},"value":${JSON.stringify(r.value)}}`;
  });
  return Buffer.from(`${json}]}`, 'utf8');
}

const SOURCE_KINDS: ReadonlySet<unknown> = new Set(sourceKind.options);
const isText = (value: unknown): value is string => typeof value === 'string' && value.length > 0;
const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/** What the readings schema accepts, as plain checks (never wider than the schema; the spec compares them). */
function isValidReadings(m: ReadingsMessage): boolean {
  return (
    m.v === MESSAGE_VERSION &&
    isText(m.meterId) &&
    isText(m.meterGroup) &&
    isText(m.manufacturer) &&
    Number.isSafeInteger(m.ts) &&
    m.ts >= MIN_EPOCH_MS &&
    m.ts <= MAX_EPOCH_MS &&
    SOURCE_KINDS.has(m.source) &&
    isText(m.sourceId) &&
    Array.isArray(m.readings) &&
    m.readings.length > 0 &&
    m.readings.every(
      (r) =>
        isText(r.quantity) &&
        isCount(r.storage) &&
        isCount(r.tariff) &&
        typeof r.unit === 'string' &&
        Number.isFinite(r.value),
    )
  );
}

export const decodeReadings = readingsCodec.decode;
export const encodeEvent = eventCodec.encode;
export const decodeEvent = eventCodec.decode;
export const encodeDeadLetter = deadLetterCodec.encode;
export const decodeDeadLetter = deadLetterCodec.decode;
export const encodeCommand = commandCodec.encode;
export const decodeCommand = commandCodec.decode;

/** Builds a dead letter from the failing bytes; `original` is stored base64 so any payload survives JSON. */
export function deadLetter(
  fields: Omit<DeadLetterMessage, 'v' | 'original' | 'failedAt'> & { original: Buffer; failedAt?: number },
): DeadLetterMessage {
  return {
    ...fields,
    v: MESSAGE_VERSION,
    failedAt: fields.failedAt ?? Date.now(),
    original: fields.original.toString('base64'),
  };
}
