import { cpSync, existsSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { Kafka, logLevel } from 'kafkajs';
import Redis from 'ioredis';
import { generateApiKey } from '@hes/keys';
import { computeConsumerLag } from '@hes/messaging';
import { createPool, runMigrations } from '@hes/storage';
import {
  clockTicksPerSecond,
  compiledRoot,
  cpuProfileArgs,
  createBenchDatabase,
  findRepoRoot,
  kafkaMockPids,
  kafkaMockRunning,
  localStack as runLocalStack,
  log as logLine,
  newRun,
  pipelineProcessEnv,
} from './bench-env';
import { measureCopyCeiling } from './copy-ceiling';
import { LatencyProbe } from './latency-probe';
import { BenchProcess, sleep, waitForHttpOk } from './processes';
import { ProcSampler, pidsByComm, type Watched } from './proc-sampler';
import {
  histogramBuckets,
  histogramQuantileUpperBound,
  parsePrometheusText,
  sumSamples,
  type PromSample,
} from './prometheus';
import { windowRates } from './stats';

/**
 * bench/pipeline: the whole pipeline on this machine — collector and decryptor(s) as separate processes
 * (from a snapshot of dist/), the simulator sending over HTTP, the local PostgreSQL (a fresh database, plain
 * dialect), Redis, and a private Kafka mock — measured from outside: accepted telegrams/s, readings stored/s,
 * ingest → stored-and-cached latency per telegram, CPU and RSS per process, consumer lag against the mock's
 * retention, the exact count at the end, and the bare-COPY ceiling. Run from the compiled tree it belongs to
 * (dist/ after `npm run build`, or a private `tsc --outDir` inside the checkout, which is then snapshotted):
 *   node dist/bench/pipeline/main.js --rate 20000 --duration 300
 */
const repoRoot = findRepoRoot();

interface BenchOptions {
  rate: number;
  duration: number;
  meters: number;
  duplicates: number;
  groups: number;
  partitions: number;
  decryptors: number;
  poolSize: number;
  gateways: number;
  batchSize: number;
  concurrency: number;
  warmup: number;
  latencyGroups: number;
  copyRows: number;
  kafkaPort: number;
  mockPartitionMib: number;
  collectorPort: number;
  seed: number;
  drainTimeout: number;
  keepDatabase: boolean;
  cpuProf?: string;
}

const positive = (integerOnly: boolean) => (text: string) => {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || (integerOnly && !Number.isInteger(value)))
    throw new InvalidArgumentError(`expected a ${integerOnly ? 'whole ' : ''}number >= 0`);
  return value;
};

function parseOptions(argv: string[]): BenchOptions {
  const program = new Command('bench-pipeline')
    .option(
      '--rate <n>',
      'telegrams/s the simulator puts on the wire (duplicates included)',
      positive(false),
      20_000,
    )
    .option('--duration <s>', 'seconds of load', positive(false), 300)
    .option('--meters <n>', 'simulated meters (registered with keys)', positive(true), 100_000)
    .option('--duplicates <f>', 'fraction of telegrams a second gateway also delivers', positive(false), 0.1)
    .option('--groups <n>', 'meter groups (the Kafka partitioning key)', positive(true), 96)
    .option('--partitions <n>', 'partitions of the data topics', positive(true), 12)
    .option('--decryptors <n>', 'decryptor processes in the consumer group', positive(true), 1)
    .option('--pool-size <n>', 'worker threads per decryptor (DECRYPTOR_POOL_SIZE)', positive(true), 1)
    .option('--gateways <n>', 'simulated gateways', positive(true), 4)
    .option('--batch-size <n>', 'telegrams per HTTP request', positive(true), 1000)
    .option('--concurrency <n>', 'HTTP requests in flight', positive(true), 8)
    .option('--warmup <s>', 'seconds at the start left out of the steady-state figures', positive(false), 20)
    .option(
      '--latency-groups <n>',
      'meter groups whose every telegram is timed end to end',
      positive(true),
      8,
    )
    .option('--copy-rows <n>', 'rows for the bare COPY ceiling (0 = skip)', positive(true), 2_000_000)
    .option('--kafka-port <port>', 'port of the private Kafka mock', positive(true), 19_392)
    .option(
      '--mock-partition-mib <n>',
      'retention per partition of the private Kafka mock, MiB (its own default is 5)',
      positive(true),
      1024,
    )
    .option(
      '--collector-port <port>',
      'collector port; decryptors use the following ports',
      positive(true),
      18_380,
    )
    .option('--seed <n>', 'fleet seed', positive(true), 20_261_124)
    .option('--drain-timeout <s>', 'longest wait for the backlog after the load stops', positive(false), 300)
    .option('--keep-database', 'leave the bench database in place for inspection', false)
    .option('--cpu-prof <dir>', 'run the collector and decryptors under node --cpu-prof, profiles into <dir>')
    .parse(argv);
  const options = program.opts<BenchOptions>();
  if (options.latencyGroups > options.groups)
    throw new InvalidArgumentError('--latency-groups exceeds --groups');
  return options;
}

const log = (message: string) => logLine('bench-pipeline', message);

interface CounterPoint {
  atMs: number;
  count: number;
}

/** Scrapes the collector's and decryptors' /metrics every second and keeps the counters the bench reports. */
class MetricsScraper {
  readonly produced: CounterPoint[] = [];
  readonly received: CounterPoint[] = [];
  readonly stored: CounterPoint[] = [];
  lastCollector: PromSample[] = [];
  lastDecryptors: PromSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly collectorUrl: string,
    private readonly decryptorUrls: string[],
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      this.scrape()
        .catch((error: Error) => log(`metrics scrape failed: ${error.message}`))
        .finally(() => (this.busy = false));
    }, 1000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async scrape(): Promise<void> {
    const atMs = Date.now();
    const [collector, ...decryptors] = await Promise.all(
      [this.collectorUrl, ...this.decryptorUrls].map(async (url) =>
        parsePrometheusText(await (await fetch(url)).text()),
      ),
    );
    this.lastCollector = collector;
    this.lastDecryptors = decryptors.flat();
    this.produced.push({
      atMs,
      count: sumSamples(collector, 'hes_processing_latency_seconds_count', { stage: 'ingest_to_kafka' }),
    });
    this.received.push({ atMs, count: sumSamples(collector, 'hes_telegrams_received_total') });
    this.stored.push({ atMs, count: sumSamples(this.lastDecryptors, 'hes_readings_stored_total') });
  }
}

/** Rate of a counter between two instants (nearest samples inside the range). */
function rateBetween(points: CounterPoint[], fromMs: number, toMs: number): number {
  const inside = points.filter((p) => p.atMs >= fromMs && p.atMs <= toMs);
  if (inside.length < 2) return NaN;
  const first = inside[0];
  const last = inside[inside.length - 1];
  return (last.count - first.count) / ((last.atMs - first.atMs) / 1000);
}

interface LagPoint {
  atMs: number;
  totalMessages: number;
  maxPartitionMessages: number;
  lostToRetention: number;
  /** Partitions whose log start has moved: the mock deleted data (its 5 MiB / 100k message-set cap). */
  partitionsTrimmed: number;
}

function machineDescription() {
  const cpuModel = cpus()[0]?.model ?? 'unknown';
  return {
    nproc: cpus().length,
    cpuModel,
    ramGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    loadBefore: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

function round(value: number, digits = 0): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv);
  const { runId, workDir } = newRun(repoRoot, 'bench-pipeline');
  const machine = machineDescription();
  log(`run ${runId}, logs in ${path.relative(repoRoot, workDir)}; machine ${JSON.stringify(machine)}`);

  // Snapshot of the compiled tree: another `npm run build` in this checkout (it starts with rm -rf dist) must not pull
  // files from under the running processes (piscina loads its worker file when it spawns threads).
  const snapshot = path.join(workDir, 'dist');
  cpSync(compiledRoot, snapshot, { recursive: true });
  symlinkSync(path.join(repoRoot, 'db'), path.join(workDir, 'db'));
  const script = (relative: string) => path.join(snapshot, relative);
  // Profiles are written when a process exits (the bench stops them with SIGTERM at the end).
  const profiling = cpuProfileArgs(options.cpuProf);

  const mockWasRunning = kafkaMockRunning(repoRoot, options.kafkaPort);
  if (mockWasRunning)
    log(`Kafka mock on port ${options.kafkaPort} already running: --mock-partition-mib does not apply to it`);
  const stackEnv = runLocalStack(repoRoot, 'up', options.kafkaPort, options.mockPartitionMib * 1024 * 1024);
  const database = `hes_bench_pipeline_${runId}`;
  const benchDatabase = await createBenchDatabase(stackEnv.DATABASE_URL, database);
  const pool = createPool(benchDatabase.url, { max: 2, applicationName: 'bench-pipeline' });

  const prefix = `bench-${runId}`;
  const topicPrefix = `${prefix}.`;
  const rawTopic = `${topicPrefix}telegrams.raw`;
  const groupId = `${prefix}-decryptor`;
  const decryptorPorts = Array.from({ length: options.decryptors }, (_, i) => options.collectorPort + 1 + i);
  const processes: BenchProcess[] = [];
  const defaults = (env: Record<string, string>) =>
    Object.fromEntries(Object.entries(env).filter(([name]) => !process.env[name]));
  const baseEnv = pipelineProcessEnv(stackEnv, benchDatabase.url, topicPrefix, options.partitions);
  const kafka = new Kafka({
    clientId: `${prefix}-lag`,
    brokers: stackEnv.KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  });
  const kafkaAdmin = kafka.admin();
  let probe: LatencyProbe | undefined;
  let sampler: ProcSampler | undefined;
  let scraper: MetricsScraper | undefined;
  let lagTimer: NodeJS.Timeout | undefined;
  try {
    const migration = await runMigrations(pool, {
      dialect: 'postgres',
      migrationsDir: path.join(repoRoot, 'db', 'migrations'),
    });
    log(`database ${database} migrated (${migration.dialect}, ${migration.applied.length} migrations)`);

    const apiKeys = Array.from({ length: options.gateways }, () => generateApiKey());
    const fleetArgs = [
      'simulate',
      '--meters',
      String(options.meters),
      '--seed',
      String(options.seed),
      '--groups',
      String(options.groups),
      '--name-prefix',
      prefix,
      '--gateways',
      String(options.gateways),
      '--api-key',
      ...apiKeys,
    ];
    const registration = BenchProcess.start(
      'register',
      script('apps/cli/src/main.js'),
      [...fleetArgs, '--register', '--no-send'],
      baseEnv,
      path.join(workDir, 'register.log'),
    );
    if ((await registration.exited) !== 0) throw new Error('registering the fleet failed (register.log)');
    log(`registered ${options.meters} meters in ${options.groups} groups, ${options.gateways} gateways`);

    const collector = BenchProcess.start(
      'collector',
      script('apps/collector/src/main.js'),
      [],
      {
        ...baseEnv,
        COLLECTOR_PORT: String(options.collectorPort),
        COLLECTOR_MIGRATE_ON_START: 'false',
        COLLECTOR_MQTT_ENABLED: 'false',
      },
      path.join(workDir, 'collector.log'),
      { nodeArgs: profiling },
    );
    processes.push(collector);
    await waitForHttpOk(`http://127.0.0.1:${options.collectorPort}/health`, collector, 90_000);
    log(`collector up (pid ${collector.pid})`);

    const decryptorEnv = defaults({
      DECRYPTOR_SESSION_TIMEOUT_MS: '6000',
      DECRYPTOR_HEARTBEAT_INTERVAL_MS: '500',
      DECRYPTOR_MAX_WAIT_MS: '100',
      DECRYPTOR_LAG_POLL_MS: '2000',
    });
    const decryptors = decryptorPorts.map((port, i) =>
      BenchProcess.start(
        `decryptor-${i + 1}`,
        script('apps/decryptor/src/main.js'),
        [],
        {
          ...baseEnv,
          ...decryptorEnv,
          DECRYPTOR_GROUP_ID: groupId,
          DECRYPTOR_PORT: String(port),
          DECRYPTOR_POOL_SIZE: String(options.poolSize),
        },
        path.join(workDir, `decryptor-${i + 1}.log`),
        { nodeArgs: profiling },
      ),
    );
    processes.push(...decryptors);
    await Promise.all(
      decryptors.map((d, i) => waitForHttpOk(`http://127.0.0.1:${decryptorPorts[i]}/health`, d, 120_000)),
    );
    // The mock holds a (re)join for about the session timeout; let the group settle before the load.
    await sleep(
      Number(baseEnv.DECRYPTOR_SESSION_TIMEOUT_MS ?? decryptorEnv.DECRYPTOR_SESSION_TIMEOUT_MS) + 2000,
    );
    log(`decryptors up (pids ${decryptors.map((d) => d.pid).join(', ')})`);

    const groupNames = (
      await pool.query<{ name: string }>('SELECT name FROM meter_groups WHERE name LIKE $1 ORDER BY name', [
        `${prefix}-%`,
      ])
    ).rows.map((row) => row.name);
    const step = groupNames.length / options.latencyGroups;
    const timedGroups = Array.from(
      { length: options.latencyGroups },
      (_, i) => groupNames[Math.floor(i * step)],
    );
    probe = new LatencyProbe(
      stackEnv.REDIS_URL,
      timedGroups.map((group) => `hes:readings:group:${group}`),
    );
    await probe.start();

    await kafkaAdmin.connect();
    const lag: LagPoint[] = [];
    lagTimer = setInterval(() => {
      computeConsumerLag(kafkaAdmin, groupId, [rawTopic]).then(
        (result) =>
          lag.push({
            atMs: Date.now(),
            totalMessages: result.total,
            maxPartitionMessages: Math.max(0, ...result.partitions.map((p) => p.lag)),
            lostToRetention: result.partitions.reduce((sum, p) => sum + p.lostToRetention, 0),
            partitionsTrimmed: result.partitions.filter((p) => BigInt(p.lowWatermark) > 0n).length,
          }),
        (error: Error) => log(`lag sample failed: ${error.message}`),
      );
    }, 2000);

    scraper = new MetricsScraper(
      `http://127.0.0.1:${options.collectorPort}/metrics`,
      decryptorPorts.map((port) => `http://127.0.0.1:${port}/metrics`),
    );
    const simulatorHolder: { process?: BenchProcess } = {};
    const watched: Watched[] = [
      { role: 'collector', pid: () => [collector.pid] },
      ...decryptors.map((d) => ({ role: d.name, pid: () => [d.pid] })),
      {
        role: 'simulator',
        pid: () => (simulatorHolder.process?.running ? [simulatorHolder.process.pid] : []),
      },
      { role: 'kafka mock', pid: () => kafkaMockPids(options.kafkaPort) },
      { role: 'postgresql (all backends, shared)', pid: () => pidsByComm('postgres') },
      { role: 'redis-server (shared)', pid: () => pidsByComm('redis-server') },
      { role: 'bench harness', pid: () => [process.pid] },
    ];
    const ticksPerSecond = clockTicksPerSecond();
    sampler = new ProcSampler(watched, { ticksPerSecond });
    sampler.start(1000);
    scraper.start();

    const loadAtStart = loadavg().map((l) => round(l, 2));
    log(`load ${options.rate}/s for ${options.duration} s (load average ${loadAtStart.join(' ')})`);
    const simulator = BenchProcess.start(
      'simulator',
      script('apps/cli/src/main.js'),
      [
        ...fleetArgs,
        '--url',
        `http://127.0.0.1:${options.collectorPort}`,
        '--rate',
        String(options.rate),
        '--duplicates',
        String(options.duplicates),
        '--duration',
        String(options.duration),
        '--batch-size',
        String(options.batchSize),
        '--concurrency',
        String(options.concurrency),
        '--progress-interval',
        '10',
      ],
      baseEnv,
      path.join(workDir, 'simulator.log'),
      { pipeStdout: true },
    );
    simulatorHolder.process = simulator;
    processes.push(simulator);
    let simulatorStdout = '';
    simulator.child.stdout?.on('data', (chunk: Buffer) => (simulatorStdout += chunk.toString('utf8')));
    const loadStartedAt = Date.now();
    const simulatorExit = await simulator.exited;
    const loadEndedAt = Date.now();
    if (simulatorExit !== 0) throw new Error(`simulator exited with ${simulatorExit} (simulator.log)`);
    const summary = JSON.parse(simulatorStdout.trim().split('\n').pop() ?? '{}') as {
      uniqueAccepted: number;
      expectedReadings: number;
      accepted: number;
      duplicates: number;
      rejected: number;
      sent: number;
      achievedRate: number;
      throttled429: number;
      unavailable503: number;
      itemsNotDelivered: number;
      elapsedSeconds: number;
    };
    log(
      `load done: ${summary.sent} sent, ${summary.uniqueAccepted} unique accepted, ` +
        `${summary.expectedReadings} readings expected; draining`,
    );

    const drainDeadline = Date.now() + options.drainTimeout * 1000;
    let stableSince = 0;
    let lastStored = -1;
    let drainedAt = NaN;
    while (Date.now() < drainDeadline) {
      await sleep(1000);
      const current = await computeConsumerLag(kafkaAdmin, groupId, [rawTopic]);
      const stored = scraper.stored[scraper.stored.length - 1]?.count ?? 0;
      if (current.total === 0 && stored === lastStored) {
        if (stableSince === 0) stableSince = Date.now();
        if (Date.now() - stableSince >= 3000) {
          drainedAt = stableSince;
          break;
        }
      } else {
        stableSince = 0;
      }
      lastStored = stored;
    }
    await scraper.scrape();
    scraper.stop();
    sampler.stop();
    clearInterval(lagTimer);
    lagTimer = undefined;

    const counted = await pool.query<{ rows: string }>('SELECT count(*)::bigint AS rows FROM readings');
    const duplicateKeys = await pool.query<{ n: string }>(
      `SELECT count(*)::bigint AS n FROM (
         SELECT 1 FROM readings GROUP BY meter_id, quantity, storage, tariff, ts HAVING count(*) > 1) d`,
    );
    const storedRows = Number(counted.rows[0].rows);

    const steadyFrom = loadStartedAt + options.warmup * 1000;
    const steadyTo = loadEndedAt;
    const latencySteady = probe.percentiles(steadyFrom, steadyTo);
    const latencyAll = probe.percentiles();
    const stages = ['ingest_to_kafka', 'kafka_to_decoded', 'decoded_to_stored', 'stored_to_cached'].map(
      (stage) => {
        const source = stage === 'ingest_to_kafka' ? scraper!.lastCollector : scraper!.lastDecryptors;
        const buckets = histogramBuckets(source, 'hes_processing_latency_seconds', { stage });
        // JSON has no Infinity: a quantile in the +Inf bucket is reported as the string '+Inf'.
        const bound = (q: number) => {
          const value = histogramQuantileUpperBound(buckets, q);
          return value === Infinity ? '+Inf' : value;
        };
        return { stage, p50LeS: bound(0.5), p95LeS: bound(0.95), p99LeS: bound(0.99) };
      },
    );
    const producedWindows = windowRates(
      scraper.produced.filter((p) => p.atMs >= steadyFrom && p.atMs <= steadyTo),
      10,
    );
    const storedWindows = windowRates(
      scraper.stored.filter((p) => p.atMs >= steadyFrom && p.atMs <= steadyTo),
      10,
    );
    const lagSteady = lag.filter((p) => p.atMs >= loadStartedAt);
    const result = {
      runId,
      machine,
      loadAverageAtLoadStart: loadAtStart,
      loadAverageAtEnd: loadavg().map((l) => round(l, 2)),
      options,
      simulator: summary,
      throughput: {
        steadyWindowSeconds: round((steadyTo - steadyFrom) / 1000, 1),
        acceptedTelegramsPerSecond: round(rateBetween(scraper.produced, steadyFrom, steadyTo)),
        acceptedTelegramsPer10sMin: round(Math.min(...producedWindows)),
        acceptedTelegramsPer10sMax: round(Math.max(...producedWindows)),
        readingsStoredPerSecond: round(rateBetween(scraper.stored, steadyFrom, steadyTo)),
        readingsStoredPer10sMin: round(Math.min(...storedWindows)),
        uniqueAcceptedPerSecondOverRun: round(summary.uniqueAccepted / summary.elapsedSeconds),
        drainSecondsAfterLoad: round((drainedAt - loadEndedAt) / 1000, 1),
      },
      latencyIngestToStoredAndCached: { steady: latencySteady, wholeRun: latencyAll, timedGroups },
      stageHistogramsUpperBounds: stages,
      consumerLag: {
        maxTotalMessages: Math.max(0, ...lagSteady.map((p) => p.totalMessages)),
        maxPartitionMessages: Math.max(0, ...lagSteady.map((p) => p.maxPartitionMessages)),
        // Seen at a sample: committed offsets below the log start (the consumer then skips to the start, so
        // later samples no longer show it; the exact count below gives the full loss).
        lostToRetentionSeen: Math.max(0, ...lagSteady.map((p) => p.lostToRetention)),
        partitionsTrimmedByRetention: Math.max(0, ...lagSteady.map((p) => p.partitionsTrimmed)),
        samples: lagSteady.map((p) => [round((p.atMs - loadStartedAt) / 1000), p.totalMessages]),
      },
      processes: sampler.summary(steadyFrom, steadyTo).map((r) => ({
        ...r,
        cpuMeanPercent: round(r.cpuMeanPercent),
        cpuPeakPercent: round(r.cpuPeakPercent),
        rssMeanMiB: round(r.rssMeanMiB),
        rssPeakMiB: round(r.rssPeakMiB),
      })),
      exact: {
        drained: Number.isFinite(drainedAt),
        storedRows,
        expectedReadings: summary.expectedReadings,
        equal: storedRows === summary.expectedReadings,
        missingReadings: summary.expectedReadings - storedRows,
        naturalKeysStoredTwice: Number(duplicateKeys.rows[0].n),
      },
      copyCeiling: undefined as undefined | { rows: number; seconds: number; rowsPerSecond: number },
    };

    for (const p of processes) await p.stop();
    await probe.stop();
    probe = undefined;
    await removeCachedReadings(pool, stackEnv.REDIS_URL);
    if (options.copyRows > 0) {
      log(`bare COPY ceiling with up to ${options.copyRows} of the stored rows`);
      const ceiling = await measureCopyCeiling(pool, path.join(workDir, 'copy-rows.tsv'), options.copyRows);
      result.copyCeiling = {
        ...ceiling,
        seconds: round(ceiling.seconds, 2),
        rowsPerSecond: round(ceiling.rowsPerSecond),
      };
    }
    writeFileSync(path.join(workDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    if (
      !result.exact.equal ||
      result.exact.naturalKeysStoredTwice > 0 ||
      result.consumerLag.lostToRetentionSeen > 0
    )
      process.exitCode = 2;
  } finally {
    if (lagTimer) clearInterval(lagTimer);
    scraper?.stop();
    sampler?.stop();
    for (const p of processes) await p.stop().catch(() => null);
    await probe?.stop();
    await kafkaAdmin.disconnect().catch(() => undefined);
    await pool.end();
    await benchDatabase.close(options.keepDatabase);
    if (!mockWasRunning) runLocalStack(repoRoot, 'down', options.kafkaPort);
    rmSync(snapshot, { recursive: true, force: true });
    if (existsSync(path.join(workDir, 'db'))) rmSync(path.join(workDir, 'db'));
  }
}

/** The bench's meters' latest values and hot windows in Redis (keys under the product's `hes:` prefix). */
async function removeCachedReadings(pool: ReturnType<typeof createPool>, redisUrl: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    const meters = await pool.query<{ meter_id: string }>('SELECT DISTINCT meter_id FROM readings');
    const all = meters.rows.flatMap((row) => [`hes:latest:${row.meter_id}`, `hes:window:${row.meter_id}`]);
    for (let i = 0; i < all.length; i += 1000) await redis.unlink(...all.slice(i, i + 1000));
  } finally {
    redis.disconnect();
  }
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
