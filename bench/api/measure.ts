import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pool } from 'pg';
import type { LoadPlan, Percentiles, RateResult, SequentialResult } from './load';

/** Linux clock ticks per second (USER_HZ), the unit of utime and stime in /proc/<pid>/stat. */
const CLOCK_TICKS_PER_SECOND = 100;

/** utime + stime of a process (all its threads) in microseconds. */
export function processCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS_PER_SECOND;
}

/** utime + stime of `pid` and its children (a cluster primary's workers), in microseconds. */
export function processTreeCpuMicros(pid: number): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean);
  return [pid, ...children.map(Number)].reduce((total, one) => total + processCpuMicros(one), 0);
}

/**
 * utime + stime of the PostgreSQL backends of this database serving connections named `applicationName`, in
 * microseconds: the database's share of a request, which the API process's own figure leaves out.
 */
export async function backendCpuMicros(pool: Pool, applicationName: string): Promise<number> {
  const backends = await pool.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
    [applicationName],
  );
  return backends.rows.reduce((total, row) => total + processCpuMicros(row.pid), 0);
}

/** p50/p90/p99/max/mean of `values` (ms), rounded to 0.1 ms. */
export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };
  const sorted = Float64Array.from(values).sort();
  const round = (ms: number) => Math.round(ms * 10) / 10;
  const pick = (q: number) => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
  const sum = sorted.reduce((total, value) => total + value, 0);
  return { p50: pick(0.5), p90: pick(0.9), p99: pick(0.99), max: pick(1), mean: round(sum / sorted.length) };
}

/**
 * The command that runs `args` under node, on the CPUs listed in `cpus` (taskset's list syntax, e.g. "1" or "0,1")
 * when given: the benches keep the load generator and the API on separate cores with BENCH_LOAD_CPUS and
 * BENCH_API_CPUS, as if the generator ran on another machine, which this workplace does not have.
 */
export function nodeCommand(args: string[], cpus: string | undefined): [string, string[]] {
  if (cpus === undefined || cpus === '') return [process.execPath, args];
  return ['taskset', ['--cpu-list', cpus, process.execPath, ...args]];
}

/**
 * Runs one LoadPlan in a load.js process of its own (plans go through a file in `workDir`), on `cpus` when
 * given (default BENCH_LOAD_CPUS, else any), and returns its result.
 */
export function runLoad<T extends RateResult | SequentialResult>(
  plan: LoadPlan,
  workDir: string,
  cpus: string | undefined = process.env.BENCH_LOAD_CPUS,
): Promise<T> {
  const planFile = join(workDir, `plan-${Date.now()}.json`);
  writeFileSync(planFile, JSON.stringify(plan));
  return new Promise((resolve, reject) => {
    execFile(
      ...nodeCommand([join(__dirname, 'load.js'), planFile], cpus),
      { maxBuffer: 64 << 20 },
      (error, stdout) => {
        if (error) reject(error);
        else resolve(JSON.parse(stdout) as T);
      },
    );
  });
}
