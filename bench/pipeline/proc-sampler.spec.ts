import { parseMachineCpu, parseProcStatTicks, parseProcStatusRss, ProcSampler } from './proc-sampler';

describe('/proc parsing', () => {
  it('reads utime + stime after a command name with spaces and parentheses', () => {
    const stat =
      '4242 (node (worker) x) S 1 4242 4242 0 -1 4194304 1200 0 0 0 731 169 0 0 20 0 11 0 5000 1000000 30000';
    expect(parseProcStatTicks(stat)).toBe(900);
  });

  it('reads VmRSS in bytes, 0 when absent', () => {
    expect(parseProcStatusRss('Name:\tnode\nVmRSS:\t  204800 kB\nThreads:\t11\n')).toBe(204_800 * 1024);
    expect(parseProcStatusRss('Name:\tzombie\nState:\tZ\n')).toBe(0);
  });

  it('reads total and idle (incl. iowait) jiffies of the machine', () => {
    expect(parseMachineCpu('cpu  100 5 50 800 20 1 2 3 0 0\ncpu0 1 2 3\n')).toEqual({
      total: 981,
      idle: 820,
    });
  });
});

describe('ProcSampler', () => {
  it('measures its own process: CPU spent in a busy loop shows as a share of one core', async () => {
    const sampler = new ProcSampler([{ role: 'self', pid: () => [process.pid] }]);
    const started = Date.now();
    sampler.sample(started);
    const busyUntil = Date.now() + 300;
    let spin = 0;
    while (Date.now() < busyUntil) spin++;
    expect(spin).toBeGreaterThan(0);
    sampler.sample(Date.now());
    const [self, machine] = sampler.summary(started, Date.now());
    expect(self.role).toBe('self');
    // A spinning thread uses up to one core; on a loaded machine it gets less, but clearly some.
    expect(self.cpuMeanPercent).toBeGreaterThan(10);
    expect(self.cpuMeanPercent).toBeLessThan(150);
    expect(self.rssPeakMiB).toBeGreaterThan(10);
    expect(machine.role).toBe('machine (all processes)');
  });

  it('skips a role whose processes are gone', () => {
    const sampler = new ProcSampler([{ role: 'gone', pid: () => [2 ** 22 + 7] }]);
    sampler.sample(1000);
    sampler.sample(2000);
    // Back-to-back samples may see no machine jiffies pass, so only the absence of the role is certain.
    expect(sampler.summary(0, 3000).map((s) => s.role)).not.toContain('gone');
  });
});
