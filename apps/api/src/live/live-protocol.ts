import { z } from 'zod';
import { errorBody, type ApiErrorDetail, type ApiErrorResponse } from '../http/api-error';
import type { LatestValue } from '../readings/latest-readings';

/**
 * The message protocol of the live gateway at `/api/v1/ws`: JSON text frames, each an object with a `type`.
 * Client → server: `auth`, `subscribe`, `unsubscribe`. Server → client: `authenticated`, `subscribed`,
 * `backfill`, `update`, `unsubscribed`, `error`. README.md ("Live readings over WebSocket") documents it.
 */
export const LIVE_PATH = '/api/v1/ws';

/** Close codes (4000-4999 are the application's): why the server ended a connection. */
export const CLOSE_CODES = {
  /** No credential in time, a bad one, or an access token that expired while connected. */
  unauthenticated: 4401,
  /** A valid credential without the read scope (e.g. an ingest-only gateway key). */
  forbidden: 4403,
  /** The client does not read fast enough: its unsent buffer or its queue passed the bound. */
  slowConsumer: 4008,
  /** The API instance is shutting down; reconnect (to another instance) with `since`. */
  goingAway: 1001,
} as const;

const METER_ID = /^[0-9A-Fa-f]{8}$/;

const targetFields = {
  meterId: z
    .string()
    .regex(METER_ID, 'must be 8 hex digits')
    .transform((id) => id.toUpperCase())
    .optional(),
  groupId: z.number().int('must be an integer').positive('must be a positive integer').optional(),
  societyId: z.uuid('must be a UUID').optional(),
};

const exactlyOneTarget = {
  message: 'exactly one of meterId, groupId or societyId is required',
  path: ['meterId'],
};

const hasOneTarget = (message: { meterId?: string; groupId?: number; societyId?: string }) =>
  [message.meterId, message.groupId, message.societyId].filter((v) => v !== undefined).length === 1;

const clientMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('auth'), token: z.string().min(1, 'must not be empty') }),
  z
    .strictObject({
      type: z.literal('subscribe'),
      ...targetFields,
      since: z.iso
        .datetime({ offset: true, message: 'must be an ISO 8601 timestamp with a time zone' })
        .transform((value) => new Date(value))
        .optional(),
    })
    .refine(hasOneTarget, exactlyOneTarget),
  z.strictObject({ type: z.literal('unsubscribe'), ...targetFields }).refine(hasOneTarget, exactlyOneTarget),
]);

export type ClientMessage = z.infer<typeof clientMessage>;
export type SubscribeMessage = Extract<ClientMessage, { type: 'subscribe' }>;

/** What a subscription follows; `key` names it in every message about it (e.g. `meter:0123ABCD`, `group:3`). */
export type SubscriptionTarget =
  | { kind: 'meter'; id: string; key: string }
  | { kind: 'group'; id: number; key: string }
  | { kind: 'society'; id: string; key: string };

export function targetOf(message: {
  meterId?: string;
  groupId?: number;
  societyId?: string;
}): SubscriptionTarget {
  if (message.meterId !== undefined)
    return { kind: 'meter', id: message.meterId, key: `meter:${message.meterId}` };
  if (message.groupId !== undefined)
    return { kind: 'group', id: message.groupId, key: `group:${message.groupId}` };
  const societyId = (message.societyId as string).toLowerCase();
  return { kind: 'society', id: societyId, key: `society:${societyId}` };
}

export type ParsedClientMessage =
  { ok: true; message: ClientMessage } | { ok: false; details: ApiErrorDetail[] };

/** Parses one text frame; every problem comes back as a field-level detail like the REST API's 400s. */
export function parseClientMessage(frame: string): ParsedClientMessage {
  let json: unknown;
  try {
    json = JSON.parse(frame);
  } catch {
    return { ok: false, details: [{ field: '', message: 'must be a JSON object' }] };
  }
  const parsed = clientMessage.safeParse(json);
  if (parsed.success) return { ok: true, message: parsed.data };
  return {
    ok: false,
    details: parsed.error.issues.map((issue) => ({
      field: issue.path.join('.'),
      message:
        issue.code === 'invalid_union' && issue.path.length === 1 && issue.path[0] === 'type'
          ? 'must be one of auth, subscribe, unsubscribe'
          : issue.message,
    })),
  };
}

/** A reading as clients receive it: the stored reading's fields, timestamp UTC ISO 8601, unit explicit. */
export interface LiveReading extends LatestValue {
  meterId: string;
}

export interface LiveEvent {
  meterId: string;
  kind: string;
  ts: string;
  details: Record<string, unknown>;
}

export type ServerMessage =
  | {
      type: 'authenticated';
      principal: { kind: string; role: string; societyIds: 'all' | readonly string[] };
      maxMessagesPerSecond: number;
    }
  | { type: 'subscribed'; subscription: string; meters: number }
  | {
      type: 'backfill';
      subscription: string;
      readings: LiveReading[];
      events: LiveEvent[];
      /** Set on the last backfill message of a subscription; `truncated` when the limit cut it short. */
      complete?: { readings: number; events: number; truncated: boolean };
    }
  | { type: 'update'; readings: LiveReading[]; events: LiveEvent[] }
  | { type: 'unsubscribed'; subscription: string; reason?: string }
  | ({ type: 'error'; subscription?: string } & ApiErrorResponse);

export function errorMessage(
  code: string,
  message: string,
  details: ApiErrorDetail[] = [],
  subscription?: string,
): ServerMessage {
  return subscription === undefined
    ? { type: 'error', ...errorBody(code, message, details) }
    : { type: 'error', subscription, ...errorBody(code, message, details) };
}
