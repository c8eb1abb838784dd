import type { Pool } from 'pg';
import { DailySummaryRefresher, type DailySummaryReport } from './daily-summary';
import { StorageDialect, readRecordedDialect } from './dialect';

export interface MaintenanceOptions {
  /** How many days of partitions the plain dialect keeps created ahead of today. */
  daysAhead?: number;
  /**
   * TimescaleDB: run the retention, compression and refresh policies from here. `auto` does so when the
   * server has no TimescaleDB background scheduler running (e.g. the PGlite build).
   */
  runPolicies?: boolean | 'auto';
  /** Injected clock for tests. */
  now?: () => Date;
}

export interface MaintenanceReport {
  dialect: StorageDialect;
  /** Plain: partitions created ahead. */
  partitionsCreated: number;
  /** Plain: partitions dropped past retention. */
  partitionsDropped: string[];
  /** TimescaleDB: ids of the policy jobs run in-process. */
  jobsRun: number[];
  /** TimescaleDB: whether back-dated invalidations were folded into readings_30m. */
  aggregateRefreshed: boolean;
  /** Both: days and back-dated (meter, day) pairs summarised into readings_1d. */
  dailySummary: DailySummaryReport;
}

const DAY_MS = 86_400_000;

/**
 * Periodic storage housekeeping; call `run()` from a timer (every few minutes) in one process per database.
 *
 * Plain PostgreSQL: creates the daily partitions of the coming days and drops those older than
 * raw_retention_days (recorded in storage_settings); the readings_30m rollups are kept.
 *
 * TimescaleDB: the refresh policy re-materialises the last 3 days. Older back-dated writes (handheld uploads,
 * late gateway backlogs) are recorded by TimescaleDB's invalidation log but lie outside that window, so
 * `run()` refreshes readings_30m from the beginning of time to the policy window: TimescaleDB only
 * re-materialises the invalidated buckets, so this costs nothing when no back-dated data arrived. The writer
 * cannot do this itself: refresh_continuous_aggregate cannot run inside a transaction and recomputes whole
 * buckets for all meters, which is better done once per maintenance round than once per batch.
 *
 * Both: closed days and back-dated (meter, day) pairs are then summarised into readings_1d
 * (DailySummaryRefresher).
 */
export class StorageMaintenance {
  private readonly daysAhead: number;
  private readonly now: () => Date;

  constructor(
    private readonly pool: Pool,
    private readonly options: MaintenanceOptions = {},
  ) {
    this.daysAhead = options.daysAhead ?? 7;
    this.now = options.now ?? (() => new Date());
  }

  async run(): Promise<MaintenanceReport> {
    const dialect = await readRecordedDialect(this.pool);
    if (!dialect) throw new Error('the database has no storage schema yet: run `hes migrate` first');
    const report: MaintenanceReport = {
      dialect,
      partitionsCreated: 0,
      partitionsDropped: [],
      jobsRun: [],
      aggregateRefreshed: false,
      dailySummary: { daysSummarised: 0, pendingCleared: 0 },
    };
    if (dialect === 'postgres') {
      report.partitionsCreated = await this.createPartitionsAhead();
      report.partitionsDropped = await this.dropExpiredPartitions();
    } else {
      if (await this.shouldRunPolicies()) report.jobsRun = await this.runPolicyJobs();
      await this.refreshBackdatedAggregates();
      report.aggregateRefreshed = true;
    }
    // After the rollups are refreshed: the day summaries are read from them.
    report.dailySummary = await new DailySummaryRefresher(this.pool, dialect).refresh(this.now().getTime());
    return report;
  }

  private async rawRetentionDays(): Promise<number> {
    const result = await this.pool.query<{ value: string }>(
      `SELECT value FROM storage_settings WHERE key = 'raw_retention_days'`,
    );
    return Number(result.rows[0].value);
  }

  private async createPartitionsAhead(): Promise<number> {
    const today = Date.UTC(this.now().getUTCFullYear(), this.now().getUTCMonth(), this.now().getUTCDate());
    const days = Array.from({ length: this.daysAhead + 1 }, (_, offset) =>
      new Date(today + offset * DAY_MS).toISOString().slice(0, 10),
    );
    const result = await this.pool.query<{ created: number }>(
      'SELECT readings_ensure_partitions($1::date[]) AS created',
      [days],
    );
    return result.rows[0].created;
  }

  /** Drops the partitions of days entirely older than now - retention. */
  private async dropExpiredPartitions(): Promise<string[]> {
    const cutoff = new Date(this.now().getTime() - (await this.rawRetentionDays()) * DAY_MS);
    const result = await this.pool.query<{ dropped: string }>(
      'SELECT readings_drop_partitions_before($1::date) AS dropped',
      [cutoff.toISOString().slice(0, 10)],
    );
    return result.rows.map((row) => row.dropped);
  }

  private async shouldRunPolicies(): Promise<boolean> {
    const setting = this.options.runPolicies ?? 'auto';
    if (setting !== 'auto') return setting;
    const result = await this.pool.query<{ running: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                      WHERE application_name = 'TimescaleDB Background Worker Scheduler') AS running`,
    );
    return !result.rows[0].running;
  }

  /** Runs the readings policies in dependency order: drop expired chunks, compress old ones, refresh the aggregate. */
  private async runPolicyJobs(): Promise<number[]> {
    const jobs = await this.pool.query<{ job_id: number }>(
      `SELECT job_id FROM timescaledb_information.jobs
       WHERE hypertable_name IN ('readings', 'readings_30m')
         AND proc_name IN ('policy_retention', 'policy_compression', 'policy_refresh_continuous_aggregate')
       ORDER BY array_position(ARRAY['policy_retention', 'policy_compression', 'policy_refresh_continuous_aggregate'],
                               proc_name::text)`,
    );
    for (const { job_id: jobId } of jobs.rows) {
      await this.pool.query('CALL run_job($1)', [jobId]);
    }
    return jobs.rows.map((row) => row.job_id);
  }

  private async refreshBackdatedAggregates(): Promise<void> {
    const windowEnd = new Date(this.now().getTime() - 3 * DAY_MS);
    await this.pool.query(`CALL refresh_continuous_aggregate('readings_30m', NULL, $1::timestamptz)`, [
      windowEnd,
    ]);
  }
}
