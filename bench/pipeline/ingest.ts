import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { generateApiKey } from '@hes/keys';
import { createPool, runMigrations } from '@hes/storage';
import {
  clockTicksPerSecond,
  compiledRoot,
  cpuProfileArgs,
  createBenchDatabase,
  findRepoRoot,
  kafkaMockRunning,
  localStack,
  log as logLine,
  newRun,
  pipelineProcessEnv,
} from './bench-env';
import { BenchProcess, sleep, waitForHttpOk } from './processes';
import { readProcUsage } from './proc-sampler';
import { parsePrometheusText, sumSamples } from './prometheus';

/**
 * bench/pipeline ingest: the CPU cost per telegram of the two processes at the front of the pipeline, the
 * collector and the `hes simulate` load generator, without decryptors. The simulator sends `--telegrams`
 * originals (plus `--duplicates` of them again from a second gateway) over HTTP at `--rate` items/s to a
 * collector writing to a private Kafka mock; utime + stime of each process (/proc/<pid>/stat) over the load
 * is divided by the items it handled.
 *   node <compiled tree>/bench/pipeline/ingest.js --telegrams 100000 [--cpu-prof <dir>]
 */
interface IngestOptions {
  telegrams: number;
  warmup?: number;
  rate: number;
  meters: number;
  groups: number;
  partitions: number;
  duplicates: number;
  gateways: number;
  batchSize: number;
  concurrency: number;
  kafkaPort: number;
  collectorPort: number;
  seed: number;
  cpuProf?: string;
}

const BENCH = 'bench-ingest';
const log = (message: string) => logLine(BENCH, message);

const number = (integerOnly: boolean) => (text: string) => {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || (integerOnly && !Number.isInteger(value)))
    throw new InvalidArgumentError(`expected a ${integerOnly ? 'whole ' : ''}number >= 0`);
  return value;
};

function parseOptions(argv: string[]): IngestOptions {
  return new Command('bench-ingest')
    .description('CPU per telegram of the collector and the simulator, without decryptors')
    .option('--telegrams <n>', 'original telegrams the simulator sends', number(true), 200_000)
    .option(
      '--warmup <n>',
      'items received before the measurement starts (default: one round of the fleet with its duplicates)',
      number(true),
    )
    .option('--rate <n>', 'items/s on the wire (duplicates included)', number(false), 5_000)
    .option('--meters <n>', 'simulated meters (registered with keys)', number(true), 100_000)
    .option('--groups <n>', 'meter groups (the partitioning key)', number(true), 96)
    .option('--partitions <n>', 'partitions of the raw topic', number(true), 12)
    .option('--duplicates <f>', 'fraction of telegrams a second gateway also delivers', number(false), 0.1)
    .option('--gateways <n>', 'simulated gateways', number(true), 4)
    .option('--batch-size <n>', 'telegrams per HTTP request', number(true), 1000)
    .option('--concurrency <n>', 'HTTP requests in flight', number(true), 8)
    .option('--kafka-port <port>', 'port of the private Kafka mock', number(true), 19_394)
    .option('--collector-port <port>', 'collector port', number(true), 18_390)
    .option('--seed <n>', 'fleet seed', number(true), 20_261_124)
    .option(
      '--cpu-prof <dir>',
      'run the collector and the simulator under node --cpu-prof, profiles into <dir>',
    )
    .parse(argv)
    .opts<IngestOptions>();
}

interface SimulatorSummary {
  sent: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  uniqueAccepted: number;
  itemsNotDelivered: number;
  requests: number;
  elapsedSeconds: number;
}

async function collectorReceived(metricsUrl: string): Promise<number> {
  const samples = parsePrometheusText(await (await fetch(metricsUrl)).text());
  return sumSamples(samples, 'hes_telegrams_received_total');
}

function cpuTicks(pid: number): number {
  const usage = readProcUsage(pid);
  if (usage === undefined) throw new Error(`process ${pid} is gone`);
  return usage.cpuTicks;
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

async function main(): Promise<void> {
  const options = parseOptions(process.argv);
  const repoRoot = findRepoRoot();
  const { runId, workDir } = newRun(repoRoot, 'bench-ingest');
  const ticksPerSecond = clockTicksPerSecond();
  const script = (relative: string) => path.join(compiledRoot, relative);
  const profiling = cpuProfileArgs(options.cpuProf);

  const mockWasRunning = kafkaMockRunning(repoRoot, options.kafkaPort);
  const stackEnv = localStack(repoRoot, 'up', options.kafkaPort, 1024 * 1024 * 1024);
  const database = `hes_bench_ingest_${runId}`;
  const benchDatabase = await createBenchDatabase(stackEnv.DATABASE_URL, database);
  const prefix = `ingest-${runId}`;
  const env = pipelineProcessEnv(stackEnv, benchDatabase.url, `${prefix}.`, options.partitions);
  let collector: BenchProcess | undefined;
  try {
    const pool = createPool(benchDatabase.url, { max: 1, applicationName: BENCH });
    try {
      await runMigrations(pool, {
        dialect: 'postgres',
        migrationsDir: path.join(repoRoot, 'db', 'migrations'),
      });
    } finally {
      await pool.end();
    }
    const apiKeys = Array.from({ length: options.gateways }, () => generateApiKey());
    const fleetArgs = [
      'simulate',
      ...['--meters', String(options.meters), '--seed', String(options.seed)],
      ...['--groups', String(options.groups), '--name-prefix', prefix],
      ...['--gateways', String(options.gateways), '--api-key', ...apiKeys],
    ];
    const registration = BenchProcess.start(
      'register',
      script('apps/cli/src/main.js'),
      [...fleetArgs, '--register', '--no-send'],
      env,
      path.join(workDir, 'register.log'),
    );
    if ((await registration.exited) !== 0) throw new Error('registering the fleet failed (register.log)');
    log(`registered ${options.meters} meters, ${options.gateways} gateways (run ${runId})`);

    collector = BenchProcess.start(
      'collector',
      script('apps/collector/src/main.js'),
      [],
      {
        ...env,
        COLLECTOR_PORT: String(options.collectorPort),
        COLLECTOR_MIGRATE_ON_START: 'false',
        COLLECTOR_MQTT_ENABLED: 'false',
      },
      path.join(workDir, 'collector.log'),
      { nodeArgs: profiling },
    );
    const collectorUrl = `http://127.0.0.1:${options.collectorPort}`;
    await waitForHttpOk(`${collectorUrl}/health`, collector, 90_000);
    await sleep(2000);

    const loadAverageBefore = loadavg().map((l) => round(l, 2));
    log(
      `sending ${options.telegrams} telegrams at ${options.rate}/s (load average ${loadAverageBefore.join(' ')})`,
    );
    const simulator = BenchProcess.start(
      'simulator',
      script('apps/cli/src/main.js'),
      [
        ...fleetArgs,
        ...['--url', collectorUrl, '--rate', String(options.rate), '--count', String(options.telegrams)],
        ...['--duplicates', String(options.duplicates), '--batch-size', String(options.batchSize)],
        ...['--concurrency', String(options.concurrency), '--progress-interval', '10'],
      ],
      env,
      path.join(workDir, 'simulator.log'),
      { pipeStdout: true, nodeArgs: profiling },
    );
    let stdout = '';
    simulator.child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    // Steady state only: the simulator's start (modules, the fleet's keys and states) and each meter's first
    // telegram (its per-meter state in both processes: cipher context, DLL bytes, meter group) are not what a
    // long run costs per telegram. Both processes' CPU counts from the moment the collector has received the
    // warm-up items (the bench's /metrics polls until then stay out of it), against the items handled after
    // that. The simulator's last figure is the last sample before it exits (every 50 ms: ≈ 0.1 % of a run).
    const warmup = options.warmup ?? Math.ceil(options.meters * (1 + options.duplicates));
    if (warmup >= options.telegrams * (1 + options.duplicates))
      throw new InvalidArgumentError(`--telegrams must exceed the warm-up (${warmup} items)`);
    let start: { simulatorTicks: number; collectorTicks: number; received: number } | undefined;
    let simulatorTicksLast = 0;
    while (simulator.running) {
      const usage = readProcUsage(simulator.pid);
      if (usage !== undefined) {
        simulatorTicksLast = usage.cpuTicks;
        if (start === undefined) {
          const received = await collectorReceived(`${collectorUrl}/metrics`);
          if (received >= warmup)
            start = { simulatorTicks: usage.cpuTicks, collectorTicks: cpuTicks(collector.pid), received };
        }
      }
      await sleep(start === undefined ? 200 : 50);
    }
    if ((await simulator.exited) !== 0) throw new Error('the simulator failed (simulator.log)');
    if (start === undefined) throw new Error('the collector received less than the warm-up');
    const collectorTicks = cpuTicks(collector.pid) - start.collectorTicks;
    const received = await collectorReceived(`${collectorUrl}/metrics`);
    const summary = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as SimulatorSummary;
    const microsPerTick = 1e6 / ticksPerSecond;
    const result = {
      runId,
      loadAverageBefore,
      loadAverageAfter: loadavg().map((l) => round(l, 2)),
      options: { ...options, warmup },
      simulator: summary,
      collectorReceived: received,
      collectorMicrosCpuPerItem: round((collectorTicks * microsPerTick) / (received - start.received)),
      simulatorMicrosCpuPerItem: round(
        ((simulatorTicksLast - start.simulatorTicks) * microsPerTick) / (summary.sent - start.received),
      ),
    };
    writeFileSync(path.join(workDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    if (summary.itemsNotDelivered > 0 || received !== summary.sent) process.exitCode = 2;
  } finally {
    await collector?.stop();
    await benchDatabase.close();
    if (!mockWasRunning) localStack(repoRoot, 'down', options.kafkaPort);
  }
}

main().catch((error: Error) => {
  log(error.stack ?? error.message);
  process.exit(1);
});
