import { parseHex } from '@hes/wmbus';
import { z } from 'zod';

/**
 * The item schema shared by every gateway input (HTTP JSON/NDJSON, MQTT) and handheld JSON uploads:
 * `{telegram: hex|base64, receivedAt?: ISO-8601, rssi?: dBm, gatewayId?}`, or a bare telegram string.
 */
export interface RejectReason {
  code: string;
  message: string;
  field?: string;
}

export interface TelegramItem {
  telegram: Buffer;
  receivedAt?: Date;
  rssi?: number;
  gatewayId?: string;
}

export type ItemParse = { ok: true; item: TelegramItem } | { ok: false; reason: RejectReason };

export interface ItemParseOptions {
  now: number;
  /** A receive time further in the future than this is a broken gateway clock, not a reading. */
  maxFutureSkewMs: number;
  /** Telegrams longer than this are not wM-Bus (L is one byte; format A with CRCs stays below 300). */
  maxTelegramBytes: number;
}

const itemSchema = z.object({
  telegram: z.string().min(1, 'telegram is empty'),
  receivedAt: z.iso
    .datetime({ offset: true, error: 'not an ISO-8601 date-time with offset or Z' })
    .optional(),
  rssi: z.number().finite().min(-200).max(50).optional(),
  gatewayId: z.string().min(1).max(128).optional(),
});

/** What `z.iso.datetime({ offset: true })` checks receivedAt against (zod's own pattern), for the fast path. */
const RECEIVED_AT_PATTERN = z.regexes.datetime({ offset: true });

/**
 * The fields of an item that passes the schema, checked without zod: gateways send thousands of valid items
 * per request, and zod's safeParse costs several microseconds each. Anything this does not accept goes through
 * the schema, which then accepts it or words the rejection; an item accepted here is one the schema accepts.
 */
function validItemFields(
  candidate: unknown,
): { telegram: string; receivedAt?: string; rssi?: number; gatewayId?: string } | undefined {
  if (typeof candidate !== 'object' || candidate === null || Array.isArray(candidate)) return undefined;
  const { telegram, receivedAt, rssi, gatewayId } = candidate as Record<string, unknown>;
  if (typeof telegram !== 'string' || telegram.length === 0) return undefined;
  if (receivedAt !== undefined && (typeof receivedAt !== 'string' || !RECEIVED_AT_PATTERN.test(receivedAt)))
    return undefined;
  if (rssi !== undefined && (typeof rssi !== 'number' || !(rssi >= -200 && rssi <= 50))) return undefined;
  if (
    gatewayId !== undefined &&
    (typeof gatewayId !== 'string' || gatewayId.length < 1 || gatewayId.length > 128)
  )
    return undefined;
  return { telegram, receivedAt, rssi, gatewayId };
}

const PLAIN_HEX_RE = /^[0-9a-fA-F]+$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Hex is tried first: a string of hex digits is also valid base64, and gateways overwhelmingly send
 * hex, so an even-length hex string is always read as hex.
 */
export function decodeTelegramText(text: string): Buffer | undefined {
  // Plain hex, as gateways send it, without parseHex's prefix and separator clean-up (two replaces per item).
  if (text.length % 2 === 0 && PLAIN_HEX_RE.test(text)) return Buffer.from(text, 'hex');
  const hex = parseHex(text);
  if (hex) return hex;
  const compact = text.replace(/\s/g, '');
  if (compact.length === 0 || !BASE64_RE.test(compact)) return undefined;
  return Buffer.from(compact, 'base64');
}

export function parseTelegramItem(input: unknown, options: ItemParseOptions): ItemParse {
  const candidate = typeof input === 'string' ? { telegram: input } : input;
  const fields = validItemFields(candidate);
  if (fields !== undefined) return checkedItem(fields, options);
  const parsed = itemSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.length > 0 ? issue.path.map(String).join('.') : undefined;
    return {
      ok: false,
      reason: {
        code: 'BAD_ITEM',
        message: field ? `${field}: ${issue.message}` : `item: ${issue.message}`,
        ...(field ? { field } : {}),
      },
    };
  }
  return checkedItem(parsed.data, options);
}

/** The checks after the schema: the telegram's encoding and length, receivedAt not in the future. */
function checkedItem(
  fields: { telegram: string; receivedAt?: string; rssi?: number; gatewayId?: string },
  options: ItemParseOptions,
): ItemParse {
  const { telegram: text, receivedAt: receivedAtText, rssi, gatewayId } = fields;
  const telegram = decodeTelegramText(text);
  if (!telegram) {
    return {
      ok: false,
      reason: { code: 'BAD_INPUT', message: 'telegram is neither hex nor base64', field: 'telegram' },
    };
  }
  if (telegram.length > options.maxTelegramBytes) {
    return {
      ok: false,
      reason: {
        code: 'BAD_LENGTH',
        message: `telegram has ${telegram.length} bytes, more than the ${options.maxTelegramBytes} a wM-Bus frame can have`,
        field: 'telegram',
      },
    };
  }
  let receivedAt: Date | undefined;
  if (receivedAtText !== undefined) {
    receivedAt = new Date(receivedAtText);
    if (receivedAt.getTime() > options.now + options.maxFutureSkewMs) {
      return {
        ok: false,
        reason: {
          code: 'BAD_ITEM',
          message: `receivedAt ${receivedAtText} is in the future (gateway clock wrong?)`,
          field: 'receivedAt',
        },
      };
    }
  }
  return { ok: true, item: { telegram, receivedAt, rssi, gatewayId } };
}
