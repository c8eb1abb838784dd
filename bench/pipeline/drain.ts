import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { Kafka, logLevel } from 'kafkajs';
import type { Pool } from 'pg';
import { MeterKeyCipher } from '@hes/keys';
import { TelegramProducer, type TelegramEnvelope } from '@hes/messaging';
import { createPool, runMigrations } from '@hes/storage';
import { parseDll } from '@hes/wmbus';
import { createFleet } from '../../apps/cli/src/simulator/fleet';
import { TelegramGenerator } from '../../apps/cli/src/simulator/generator';
import { registerFleet } from '../../apps/cli/src/simulator/registration';
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
import { pidsByComm, readProcUsage } from './proc-sampler';
import { parsePrometheusText, sumSamples } from './prometheus';

/**
 * bench/pipeline drain: the CPU cost of one decryptor per telegram, independent of whatever else runs on
 * the machine. The raw topic of a private Kafka mock is filled with simulator telegrams first (message sets
 * of `--set-size` envelopes, as the collector writes one request); then one decryptor process drains it
 * alone. Its CPU seconds (utime + stime of all its threads, /proc/<pid>/stat) and those of the PostgreSQL
 * backends serving its database are divided by the telegrams stored meanwhile.
 *   node <dist>/bench/pipeline/drain.js --telegrams 200000 [--cpu-prof <dir>]
 */
interface DrainOptions {
  telegrams: number;
  meters: number;
  groups: number;
  partitions: number;
  setSize: number;
  poolSize: number;
  kafkaPort: number;
  decryptorPort: number;
  seed: number;
  cpuProf?: string;
  timeout: number;
  keepDatabase: boolean;
}

const BENCH = 'bench-drain';
const log = (message: string) => logLine(BENCH, message);

const whole = (text: string) => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError('expected a whole number >= 1');
  return value;
};

function parseOptions(argv: string[]): DrainOptions {
  return new Command('bench-drain')
    .description('CPU per telegram of one decryptor draining a pre-filled raw topic')
    .option('--telegrams <n>', 'telegrams pre-filled into the raw topic', whole, 200_000)
    .option('--meters <n>', 'simulated meters (registered with keys)', whole, 20_000)
    .option('--groups <n>', 'meter groups (the partitioning key)', whole, 96)
    .option('--partitions <n>', 'partitions of the data topics', whole, 12)
    .option('--set-size <n>', 'envelopes per produce call (one collector request)', whole, 1000)
    .option('--pool-size <n>', 'decryptor worker threads (DECRYPTOR_POOL_SIZE)', whole, 1)
    .option('--kafka-port <port>', 'port of the private Kafka mock', whole, 19_492)
    .option('--decryptor-port <port>', 'metrics/health port of the decryptor', whole, 19_481)
    .option('--seed <n>', 'fleet seed', whole, 20_261_124)
    .option('--cpu-prof <dir>', 'run the decryptor under node --cpu-prof, profiles into <dir>')
    .option('--timeout <s>', 'longest wait for the drain', whole, 600)
    .option('--keep-database', 'leave the bench database in place', false)
    .parse(argv)
    .opts<DrainOptions>();
}

/** CPU ticks of the PostgreSQL backends serving `database`, accumulated over backends that come and go. */
class BackendCpu {
  private readonly lastTicks = new Map<number, number>();
  private readonly baseline = new Map<number, number>();

  constructor(
    private readonly pool: Pool,
    private readonly database: string,
  ) {}

  async sample(): Promise<void> {
    const { rows } = await this.pool.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [this.database],
    );
    for (const { pid } of rows) {
      const usage = readProcUsage(pid);
      if (!usage) continue;
      if (!this.baseline.has(pid)) this.baseline.set(pid, this.lastTicks.size === 0 ? usage.cpuTicks : 0);
      this.lastTicks.set(pid, usage.cpuTicks);
    }
  }

  /** Restarts the count from the current ticks of the backends known now. */
  reset(): void {
    for (const [pid, ticks] of this.lastTicks) this.baseline.set(pid, ticks);
  }

  get ticks(): number {
    let total = 0;
    for (const [pid, ticks] of this.lastTicks) total += ticks - (this.baseline.get(pid) ?? 0);
    return total;
  }
}

interface Sample {
  atMs: number;
  decryptorTicks: number;
  backendTicks: number;
  /** All redis-server processes: the server is shared, so other jobs' commands count too. */
  redisTicks: number;
  readingsStored: number;
}

async function fillTopic(
  kafka: Kafka,
  topic: string,
  envelopes: TelegramEnvelope[],
  setSize: number,
): Promise<void> {
  const producer = new TelegramProducer(kafka, { topic, maxBatchMessages: setSize });
  await producer.connect();
  try {
    for (let start = 0; start < envelopes.length; start += setSize)
      await producer.send(envelopes.slice(start, start + setSize));
  } finally {
    await producer.disconnect();
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv);
  const repoRoot = findRepoRoot();
  const { runId, workDir } = newRun(repoRoot, 'bench-drain');
  const ticksPerSecond = clockTicksPerSecond();

  const mockWasRunning = kafkaMockRunning(repoRoot, options.kafkaPort);
  const stackEnv = localStack(repoRoot, 'up', options.kafkaPort);
  const database = `hes_bench_drain_${runId}`;
  const benchDatabase = await createBenchDatabase(stackEnv.DATABASE_URL, database);
  const pool = createPool(benchDatabase.url, { max: 2, applicationName: BENCH });
  const prefix = `drain-${runId}`;
  const kafka = new Kafka({
    clientId: prefix,
    brokers: stackEnv.KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  });
  let decryptor: BenchProcess | undefined;
  try {
    await runMigrations(pool, {
      dialect: 'postgres',
      migrationsDir: path.join(repoRoot, 'db', 'migrations'),
    });
    const masterKey = randomBytes(32);
    const fleet = createFleet({
      meters: options.meters,
      seed: options.seed,
      groups: options.groups,
      omsFraction: 0.1,
      groupPrefix: prefix,
    });
    await registerFleet(pool, fleet, new MeterKeyCipher(masterKey), { ids: [] });
    log(`registered ${options.meters} meters in ${options.groups} groups (database ${database})`);

    const generator = new TelegramGenerator(fleet, Date.now() - 3_600_000);
    const envelopes: TelegramEnvelope[] = [];
    let expectedReadings = 0;
    for (let i = 0; i < options.telegrams; i++) {
      const telegram = generator.next();
      const dll = parseDll(telegram.bytes);
      if (!dll.ok) throw new Error(`simulated telegram without a DLL header: ${dll.error.message}`);
      expectedReadings += telegram.readings;
      envelopes.push({
        sourceKind: 'gateway',
        sourceId: `${prefix}-gw`,
        receivedAt: Math.round(telegram.time),
        signal: -70,
        telegram: telegram.bytes,
        meterId: dll.dll.id,
        manufacturer: dll.dll.manufacturer,
        meterGroup: fleet.groupName(telegram.meter.group),
      });
    }
    const rawTopic = `${prefix}.telegrams.raw`;
    const kafkaAdmin = kafka.admin();
    await kafkaAdmin.connect();
    await kafkaAdmin.createTopics({
      topics: [rawTopic].map((topic) => ({ topic, numPartitions: options.partitions, replicationFactor: 1 })),
    });
    await kafkaAdmin.disconnect();
    const fillStarted = Date.now();
    await fillTopic(kafka, rawTopic, envelopes, options.setSize);
    log(
      `raw topic filled: ${options.telegrams} telegrams (${expectedReadings} readings) in ${
        (Date.now() - fillStarted) / 1000
      } s`,
    );

    const nodeArgs = cpuProfileArgs(options.cpuProf);
    const loadBefore = loadavg().map((l) => Math.round(l * 100) / 100);
    // The fleet's keys are under this run's master key, not the stack's key file.
    const { HES_MASTER_KEY_FILE: _stackKeyFile, ...inherited } = pipelineProcessEnv(
      stackEnv,
      benchDatabase.url,
      `${prefix}.`,
      options.partitions,
    );
    decryptor = BenchProcess.start(
      'decryptor',
      path.join(compiledRoot, 'apps/decryptor/src/main.js'),
      [],
      {
        ...inherited,
        HES_MASTER_KEY: masterKey.toString('hex'),
        DECRYPTOR_GROUP_ID: `${prefix}-decryptor`,
        DECRYPTOR_PORT: String(options.decryptorPort),
        DECRYPTOR_POOL_SIZE: String(options.poolSize),
        DECRYPTOR_SESSION_TIMEOUT_MS: process.env.DECRYPTOR_SESSION_TIMEOUT_MS ?? '6000',
        DECRYPTOR_HEARTBEAT_INTERVAL_MS: process.env.DECRYPTOR_HEARTBEAT_INTERVAL_MS ?? '500',
        DECRYPTOR_MAX_WAIT_MS: process.env.DECRYPTOR_MAX_WAIT_MS ?? '100',
        DECRYPTOR_MAINTENANCE_MS: '0',
        DECRYPTOR_MIGRATE: 'false',
      },
      path.join(workDir, 'decryptor.log'),
      { nodeArgs },
    );
    const metricsUrl = `http://127.0.0.1:${options.decryptorPort}/metrics`;
    await waitForHttpOk(`http://127.0.0.1:${options.decryptorPort}/health`, decryptor, 120_000);
    log(`decryptor up (pid ${decryptor.pid}); draining`);

    const backends = new BackendCpu(pool, database);
    const samples: Sample[] = [];
    const deadline = Date.now() + options.timeout * 1000;
    for (;;) {
      const usage = readProcUsage(decryptor.pid);
      await backends.sample();
      const readingsStored = sumSamples(
        parsePrometheusText(await (await fetch(metricsUrl)).text()),
        'hes_readings_stored_total',
      );
      if (!usage) throw new Error('the decryptor exited during the drain (see decryptor.log)');
      // The window starts at the first stored reading: start-up (key loading, group join) is left out.
      if (samples.length === 0 && readingsStored === 0) backends.reset();
      samples.push({
        atMs: Date.now(),
        decryptorTicks: usage.cpuTicks,
        backendTicks: backends.ticks,
        redisTicks: pidsByComm('redis-server').reduce(
          (sum, pid) => sum + (readProcUsage(pid)?.cpuTicks ?? 0),
          0,
        ),
        readingsStored,
      });
      if (readingsStored >= expectedReadings) break;
      if (Date.now() > deadline) throw new Error(`drain incomplete: ${readingsStored}/${expectedReadings}`);
      await sleep(250);
    }
    // The decryptor's own view (stage and storage timings) next to the result.
    writeFileSync(path.join(workDir, 'metrics.txt'), await (await fetch(metricsUrl)).text());
    const first = samples.find((s) => s.readingsStored > 0) ?? samples[0];
    const last = samples[samples.length - 1];
    const telegramsPerReading = options.telegrams / expectedReadings;
    const telegrams = (last.readingsStored - first.readingsStored) * telegramsPerReading;
    const seconds = (last.atMs - first.atMs) / 1000;
    const microsPerTick = 1e6 / ticksPerSecond;
    const result = {
      run: runId,
      options,
      loadBefore,
      loadAfter: loadavg().map((l) => Math.round(l * 100) / 100),
      expectedReadings,
      window: { telegrams: Math.round(telegrams), seconds },
      drainTelegramsPerSecond: Math.round(telegrams / seconds),
      decryptorCpuMicrosPerTelegram:
        Math.round((((last.decryptorTicks - first.decryptorTicks) * microsPerTick) / telegrams) * 10) / 10,
      postgresCpuMicrosPerTelegram:
        Math.round((((last.backendTicks - first.backendTicks) * microsPerTick) / telegrams) * 10) / 10,
      redisServerCpuMicrosPerTelegram:
        Math.round((((last.redisTicks - first.redisTicks) * microsPerTick) / telegrams) * 10) / 10,
      decryptorCpuPercentOfCore: Math.round(
        (((last.decryptorTicks - first.decryptorTicks) / ticksPerSecond) * 100) / seconds,
      ),
    };
    writeFileSync(path.join(workDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await decryptor?.stop();
    await pool.end();
    await benchDatabase.close(options.keepDatabase);
    if (!mockWasRunning) localStack(repoRoot, 'down', options.kafkaPort);
  }
}

main().catch((error: unknown) => {
  log(`failed: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
