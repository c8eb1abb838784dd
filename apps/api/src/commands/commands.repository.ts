import { scopeToSocieties, type Principal } from '@hes/auth';
import type { Pool } from 'pg';

export const COMMAND_KINDS = ['read_request', 'connect', 'disconnect', 'set_interval'] as const;
export type CommandKind = (typeof COMMAND_KINDS)[number];
export type CommandStatus = 'queued' | 'sent' | 'failed';

export interface MeterCommand {
  id: string;
  meterId: string;
  societyId: string | null;
  kind: CommandKind;
  params: Record<string, unknown>;
  status: CommandStatus;
  requestedBy: string;
  requestedAt: Date;
  sentAt: Date | null;
  error: string | null;
}

/**
 * What a command needs to know about its meter: the tenant it is in, the group it is partitioned by, and its
 * history floor (meters.history_from: commands requested before it are not listed).
 */
export interface CommandTarget {
  meterId: string;
  societyId: string | null;
  meterGroup: string;
  historyFrom: Date | null;
}

const COMMAND = `id, meter_id AS "meterId", society_id AS "societyId", kind, params, status,
  requested_by AS "requestedBy", requested_at AS "requestedAt", sent_at AS "sentAt", error`;

/**
 * Meter commands and their delivery status; reads are scoped to the principal's societies (a command carries the
 * society it was requested in), and a meter's list also to its history floor.
 */
export class CommandsRepository {
  constructor(private readonly pool: Pool) {}

  async findTarget(principal: Principal, meterId: string): Promise<CommandTarget | undefined> {
    const scope = scopeToSocieties(principal, 'm.society_id', 2);
    const result = await this.pool.query<CommandTarget>(
      `SELECT m.meter_id AS "meterId", m.society_id AS "societyId", g.name AS "meterGroup",
              m.history_from AS "historyFrom"
       FROM meters m JOIN meter_groups g ON g.id = m.group_id
       WHERE m.meter_id = $1 AND ${scope.sql}`,
      [meterId, ...scope.params],
    );
    return result.rows[0];
  }

  async create(command: {
    target: CommandTarget;
    kind: CommandKind;
    params: Record<string, unknown>;
    requestedBy: string;
  }): Promise<MeterCommand> {
    const result = await this.pool.query<MeterCommand>(
      `INSERT INTO meter_commands (meter_id, society_id, kind, params, requested_by)
       VALUES ($1, $2, $3, $4, $5) RETURNING ${COMMAND}`,
      [command.target.meterId, command.target.societyId, command.kind, command.params, command.requestedBy],
    );
    return result.rows[0];
  }

  /**
   * The broker's acknowledgement is the truth: it also overrides a failure the unconfirmed-command sweeper
   * recorded for a publish that took longer than its timeout.
   */
  async markSent(id: string): Promise<MeterCommand> {
    const result = await this.pool.query<MeterCommand>(
      `UPDATE meter_commands SET status = 'sent', sent_at = clock_timestamp(), error = NULL
       WHERE id = $1 RETURNING ${COMMAND}`,
      [id],
    );
    return result.rows[0];
  }

  /**
   * Marks commands still queued `olderThanMs` after they were requested as failed with `error`, in one
   * statement (several API instances may sweep at once), and returns them.
   */
  async failUnconfirmed(olderThanMs: number, error: string): Promise<MeterCommand[]> {
    const result = await this.pool.query<MeterCommand>(
      `UPDATE meter_commands SET status = 'failed', error = $2
       WHERE status = 'queued' AND requested_at < clock_timestamp() - $1 * interval '1 millisecond'
       RETURNING ${COMMAND}`,
      [olderThanMs, error],
    );
    return result.rows;
  }

  async markFailed(id: string, error: string): Promise<MeterCommand> {
    const result = await this.pool.query<MeterCommand>(
      `UPDATE meter_commands SET status = 'failed', error = $2 WHERE id = $1 RETURNING ${COMMAND}`,
      [id, error],
    );
    return result.rows[0];
  }

  async find(principal: Principal, id: string): Promise<MeterCommand | undefined> {
    const scope = scopeToSocieties(principal, 'society_id', 2);
    const result = await this.pool.query<MeterCommand>(
      `SELECT ${COMMAND} FROM meter_commands WHERE id = $1 AND ${scope.sql}`,
      [id, ...scope.params],
    );
    return result.rows[0];
  }

  /**
   * A meter's commands in the principal's societies requested from its history floor on, newest first, after the
   * (requestedAt, id) of a cursor.
   */
  async listForMeter(
    principal: Principal,
    target: Pick<CommandTarget, 'meterId' | 'historyFrom'>,
    page: { after?: { requestedAt: string; id: string }; limit: number },
  ): Promise<(MeterCommand & { cursorAt: string })[]> {
    const params: unknown[] = [target.meterId];
    const add = (value: unknown) => `$${params.push(value)}`;
    const scope = scopeToSocieties(principal, 'society_id', params.length + 1);
    params.push(...scope.params);
    const where = ['meter_id = $1', scope.sql];
    if (target.historyFrom !== null) where.push(`requested_at >= ${add(target.historyFrom)}`);
    if (page.after !== undefined) {
      where.push(
        `(requested_at, id) < (${add(page.after.requestedAt)}::timestamptz, ${add(page.after.id)}::uuid)`,
      );
    }
    const result = await this.pool.query<MeterCommand & { cursorAt: string }>(
      `SELECT ${COMMAND}, to_char(requested_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorAt"
       FROM meter_commands WHERE ${where.join(' AND ')}
       ORDER BY requested_at DESC, id DESC LIMIT ${add(page.limit)}`,
      params,
    );
    return result.rows;
  }
}
