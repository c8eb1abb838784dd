import { readFileSync, readdirSync } from 'node:fs';

/** CPU ticks (user + system, all threads) and resident memory of one process. */
export interface ProcUsage {
  cpuTicks: number;
  rssBytes: number;
}

/**
 * utime + stime from /proc/<pid>/stat. The command name (field 2) may contain spaces and parentheses,
 * so fields are counted after the last ')'; utime and stime are fields 14 and 15.
 */
export function parseProcStatTicks(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): field n is rest[n - 3].
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime))
    throw new Error('unexpected /proc/<pid>/stat format');
  return utime + stime;
}

/** VmRSS from /proc/<pid>/status, in bytes (0 for a zombie, which has none). */
export function parseProcStatusRss(status: string): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

/** Total and idle jiffies of the whole machine from the first line of /proc/stat. */
export function parseMachineCpu(procStat: string): { total: number; idle: number } {
  const fields = procStat.slice(0, procStat.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user/nice).
  const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
  return { total, idle: fields[3] + fields[4] };
}

export function readProcUsage(pid: number): ProcUsage | undefined {
  try {
    return {
      cpuTicks: parseProcStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')),
      rssBytes: parseProcStatusRss(readFileSync(`/proc/${pid}/status`, 'utf8')),
    };
  } catch {
    return undefined;
  }
}

/** Pids whose /proc/<pid>/comm is exactly `comm` (e.g. every PostgreSQL backend: "postgres"). */
export function pidsByComm(comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) pids.push(Number(entry));
    } catch {
      // The process ended between readdir and read.
    }
  }
  return pids;
}

/** A watched role: fixed pids, or a comm name re-resolved each second (backends come and go). */
export type Watched = { role: string; pid: () => number[] };

export interface RoleSummary {
  role: string;
  /** Mean and peak CPU over the window, in % of one core (200 % = both cores of this machine). */
  cpuMeanPercent: number;
  cpuPeakPercent: number;
  rssMeanMiB: number;
  rssPeakMiB: number;
}

interface RoleSeries {
  cpuPercent: number[];
  rssBytes: number[];
  atMs: number[];
}

/**
 * Samples CPU and RSS of each role every `intervalMs` (a role's pids summed, e.g. all PostgreSQL processes),
 * and the whole machine's busy CPU, so what the processes under test use can be told from everything else.
 * Ticks are per process lifetime, so a pid seen for the first time contributes from its second sample on.
 */
export class ProcSampler {
  private readonly ticksPerSecond: number;
  private readonly previous = new Map<number, number>();
  private readonly series = new Map<string, RoleSeries>();
  private readonly machine: { atMs: number[]; busyPercent: number[] } = { atMs: [], busyPercent: [] };
  private previousMachine: { total: number; idle: number } | undefined;
  private previousAtMs = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly watched: Watched[],
    options: { ticksPerSecond?: number } = {},
  ) {
    this.ticksPerSecond = options.ticksPerSecond ?? 100;
    for (const w of watched) this.series.set(w.role, { cpuPercent: [], rssBytes: [], atMs: [] });
  }

  start(intervalMs = 1000): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  sample(nowMs = Date.now()): void {
    const elapsedSeconds = (nowMs - this.previousAtMs) / 1000;
    const first = this.previousAtMs === 0;
    this.previousAtMs = nowMs;
    const machine = parseMachineCpu(readFileSync('/proc/stat', 'utf8'));
    if (this.previousMachine && machine.total > this.previousMachine.total) {
      const total = machine.total - this.previousMachine.total;
      const idle = machine.idle - this.previousMachine.idle;
      // Percent of one core, as for processes: /proc/stat counts every core's jiffies.
      const cores = total / this.ticksPerSecond / Math.max(elapsedSeconds, 1e-3);
      this.machine.atMs.push(nowMs);
      this.machine.busyPercent.push(((total - idle) / total) * cores * 100);
    }
    this.previousMachine = machine;
    for (const w of this.watched) {
      let ticks = 0;
      let rss = 0;
      let seen = false;
      for (const pid of w.pid()) {
        const usage = readProcUsage(pid);
        if (!usage) continue;
        seen = true;
        const before = this.previous.get(pid);
        if (before !== undefined) ticks += usage.cpuTicks - before;
        this.previous.set(pid, usage.cpuTicks);
        rss += usage.rssBytes;
      }
      if (!seen || first) continue;
      const series = this.series.get(w.role)!;
      series.atMs.push(nowMs);
      series.cpuPercent.push((ticks / this.ticksPerSecond / elapsedSeconds) * 100);
      series.rssBytes.push(rss);
    }
  }

  /** Per role over samples taken in [fromMs, toMs]. */
  summary(fromMs: number, toMs: number): RoleSummary[] {
    const summaries: RoleSummary[] = [];
    for (const [role, s] of this.series) {
      const picked = s.atMs.flatMap((at, i) => (at >= fromMs && at <= toMs ? [i] : []));
      if (picked.length === 0) continue;
      const cpu = picked.map((i) => s.cpuPercent[i]);
      const rss = picked.map((i) => s.rssBytes[i] / 1024 / 1024);
      summaries.push({
        role,
        cpuMeanPercent: mean(cpu),
        cpuPeakPercent: Math.max(...cpu),
        rssMeanMiB: mean(rss),
        rssPeakMiB: Math.max(...rss),
      });
    }
    const busy = this.machine.busyPercent.filter((_, i) => {
      const at = this.machine.atMs[i];
      return at >= fromMs && at <= toMs;
    });
    if (busy.length > 0) {
      summaries.push({
        role: 'machine (all processes)',
        cpuMeanPercent: mean(busy),
        cpuPeakPercent: Math.max(...busy),
        rssMeanMiB: NaN,
        rssPeakMiB: NaN,
      });
    }
    return summaries;
  }
}

function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}
