import { randomInt } from 'node:crypto';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { loadConfig } from '@hes/config';
import { MeterKeyCipher } from '@hes/keys';
import { createPool } from '@hes/storage';
import { CliIo, UsageError, writeLine } from '../cli-io';
import { createFleet, DEFAULT_FLEET_OPTIONS, type Fleet } from '../simulator/fleet';
import { exportKeys, gatewayIds, registerFleet } from '../simulator/registration';
import { runSimulation } from '../simulator/run';
import { SimulationTally } from '../simulator/tally';
import {
  SimulationFatalError,
  type RetryPolicy,
  type SimGateway,
  type Transport,
} from '../simulator/transport';
import { HttpTransport } from '../simulator/transports/http';
import { MqttTransport } from '../simulator/transports/mqtt';

interface SimulateCommandOptions {
  meters: number;
  seed?: number;
  groups: number;
  omsFraction: number;
  namePrefix: string;
  register?: boolean;
  databaseUrl?: string;
  exportKeys?: string;
  send: boolean;
  transport: 'http' | 'mqtt';
  url?: string;
  mqttUrl?: string;
  mqttTopic?: string;
  apiKey?: string[];
  gateways: number;
  rate?: number;
  duplicates: number;
  duration?: number;
  count?: number;
  batchSize: number;
  concurrency: number;
  progressInterval: number;
  maxRetry: number;
}

function integer(min: number, max: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
      throw new InvalidArgumentError(`expected an integer ${min}..${max}`);
    }
    return value;
  };
}

function decimal(min: number, max: number) {
  return (text: string): number => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
      throw new InvalidArgumentError(`expected a number ${min}..${max}`);
    }
    return value;
  };
}

/** Gateway ids go into MQTT topics and JSON unescaped: one topic level of plain ASCII. */
const NAME_PREFIX = /^[A-Za-z0-9._-]{1,40}$/;

/**
 * `hes simulate`: a deterministic fleet of simulated water meters (Kamstrup flowIQ 2101 compact/full
 * frames, OMS mode 5) sending encrypted telegrams to the collector over HTTP or MQTT, optionally
 * registered in the database first. Prints progress on stderr and a JSON summary on stdout.
 */
export function registerSimulateCommand(
  program: Command,
  io: CliIo,
  env: NodeJS.ProcessEnv = process.env,
): void {
  program
    .command('simulate')
    .description(
      'simulate a fleet of wM-Bus water meters sending encrypted telegrams to the collector; ' +
        'progress on stderr, a JSON summary on stdout',
    )
    .option('--meters <n>', 'number of meters', integer(1, 10_000_000), 1000)
    .option(
      '--seed <n>',
      'seed of the fleet and its traffic (default: random, printed in the summary)',
      integer(0, 0xffffffff),
    )
    .option(
      '--groups <n>',
      'meter groups the meters are spread over',
      integer(1, 100_000),
      DEFAULT_FLEET_OPTIONS.groups,
    )
    .option(
      '--oms-fraction <f>',
      'fraction of OMS mode-5 meters (the rest are Kamstrup flowIQ)',
      decimal(0, 1),
      DEFAULT_FLEET_OPTIONS.omsFraction,
    )
    .option(
      '--name-prefix <prefix>',
      'prefix of group names (<prefix>-group-001) and gateway ids (<prefix>-gw-01)',
      DEFAULT_FLEET_OPTIONS.groupPrefix,
    )
    .option(
      '--register',
      'write groups, meters, their keys (encrypted with HES_MASTER_KEY) and gateways to the database; idempotent',
    )
    .option('--database-url <url>', 'PostgreSQL URL for --register (default: DATABASE_URL)')
    .option(
      '--export-keys <file>',
      'write "meter_id,key_hex" of every meter for hes decode --keys (CONTAINS SECRET KEYS; mode 0600)',
    )
    .option('--no-send', 'only register / export, send nothing')
    .addOption(
      new Option('--transport <kind>', 'how to reach the collector')
        .choices(['http', 'mqtt'])
        .default('http'),
    )
    .option('--url <url>', 'collector base URL (default: http://127.0.0.1:COLLECTOR_PORT)')
    .option('--mqtt-url <url>', 'MQTT broker (default: MQTT_URL)')
    .option(
      '--mqtt-topic <filter>',
      "the collector's topic filter; its '+' level takes the gateway id (default: MQTT_TOPIC)",
    )
    .option(
      '--api-key <key...>',
      'gateway API key(s), one per gateway (HTTP); with --register, gateways missing in the database are created with them',
    )
    .option(
      '--gateways <k>',
      'gateways the meters are spread over (duplicates come from another one)',
      integer(1, 1000),
      2,
    )
    .option(
      '--rate <n>',
      "items per second on the wire, duplicates included (default: the fleet's own ~16 s cycles in real time)",
      decimal(0.001, 10_000_000),
    )
    .option(
      '--duplicates <f>',
      'fraction of telegrams a second gateway also delivers, within ~1 s',
      decimal(0, 1),
      0,
    )
    .option('--duration <s>', 'stop after this many seconds', decimal(0, 1e9))
    .option('--count <n>', 'stop after this many original telegrams', integer(0, Number.MAX_SAFE_INTEGER))
    .option('--batch-size <n>', 'items per HTTP request / MQTT message', integer(1, 100_000), 500)
    .option('--concurrency <n>', 'requests in flight at once', integer(1, 1000), 4)
    .option('--progress-interval <s>', 'seconds between progress lines', decimal(0.1, 3600), 5)
    .option(
      '--max-retry <s>',
      'give up on a batch (count it as not delivered) after retrying this long',
      decimal(0, 86_400),
      120,
    )
    .action(async (options: SimulateCommandOptions) => {
      await runSimulate(options, io, env);
    });
}

async function runSimulate(
  options: SimulateCommandOptions,
  io: CliIo,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  if (!NAME_PREFIX.test(options.namePrefix)) {
    throw new UsageError(`--name-prefix '${options.namePrefix}' must be 1-40 of A-Z a-z 0-9 . _ -`);
  }
  if (options.apiKey !== undefined && options.apiKey.length !== options.gateways) {
    throw new UsageError(
      `--api-key: ${options.apiKey.length} key(s) given for ${options.gateways} gateway(s); give one per gateway (or set --gateways)`,
    );
  }
  if (options.send && options.duration === undefined && options.count === undefined) {
    // Without a limit the run ends on Ctrl-C / SIGTERM, which still prints the summary.
    io.stderr.write('hes simulate: no --duration or --count: running until interrupted\n');
  }
  const config = loadConfig(env);
  const seed = options.seed ?? randomInt(0, 0xffffffff);
  let fleet: Fleet;
  try {
    fleet = createFleet({
      meters: options.meters,
      seed,
      groups: options.groups,
      omsFraction: options.omsFraction,
      groupPrefix: options.namePrefix,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (options.exportKeys !== undefined) {
    try {
      exportKeys(options.exportKeys, fleet);
    } catch (error) {
      throw new UsageError(
        `cannot write ${options.exportKeys}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
  }

  const ids = gatewayIds(options.namePrefix, options.gateways);
  let gateways: SimGateway[] = ids.map((id, index) => ({
    id,
    apiKey: options.apiKey?.[index],
    // Keys given without --register belong to gateways whose ids this run does not know.
    idMatchesKey: false,
  }));
  let registration: Awaited<ReturnType<typeof registerFleet>> | undefined;
  if (options.register) {
    if (config.masterKey === undefined) {
      throw new UsageError(
        '--register needs the master key that encrypts meter keys: set HES_MASTER_KEY or HES_MASTER_KEY_FILE',
      );
    }
    const masterKey = config.masterKey.bytes();
    const cipher = new MeterKeyCipher(masterKey);
    masterKey.fill(0);
    const pool = createPool(options.databaseUrl ?? config.database.url, {
      max: 2,
      applicationName: 'hes-simulate',
    });
    try {
      registration = await registerFleet(pool, fleet, cipher, { ids, apiKeys: options.apiKey });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === '42P01')
        throw new UsageError('the database has no registry tables: apply the migrations first (hes migrate)');
      if (code === undefined) throw new UsageError((error as Error).message);
      throw error;
    } finally {
      await pool.end();
    }
    gateways = registration.gateways;
    io.stderr.write(
      `hes simulate: registered ${fleet.meters.length} meters (${registration.metersWritten} written, ` +
        `${registration.keysWritten} keys written, ${registration.groupsCreated} groups and ` +
        `${registration.gatewaysCreated} gateways created)\n`,
    );
  }
  if (!options.send) {
    await writeLine(
      io.stdout,
      JSON.stringify({ seed, meters: fleet.meters.length, registration: registrationJson(registration) }),
    );
    return;
  }
  if (options.transport === 'http' && gateways.some((gateway) => gateway.apiKey === undefined)) {
    throw new UsageError('HTTP needs gateway API keys: use --register (creates gateways) or --api-key');
  }

  const tally = new SimulationTally();
  const retry: RetryPolicy = {
    maxRetryMs: options.maxRetry * 1000,
    now: Date.now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
  const transport: Transport =
    options.transport === 'http'
      ? new HttpTransport(options.url ?? `http://127.0.0.1:${config.ports.collector}`, tally, retry)
      : await MqttTransport.connect(
          options.mqttUrl ?? config.mqtt.url,
          options.mqttTopic ?? config.mqtt.topic,
          tally,
          retry,
        ).catch((error: Error) => {
          throw new UsageError(`cannot use MQTT: ${error.message}`);
        });

  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const summary = await runSimulation({
      fleet,
      gateways,
      transport,
      tally,
      rate: options.rate,
      duplicates: options.duplicates,
      durationSeconds: options.duration,
      count: options.count,
      batchSize: options.batchSize,
      concurrency: options.concurrency,
      flushMs: 200,
      progressIntervalMs: options.progressInterval * 1000,
      onProgress: (line) => io.stderr.write(`${line}\n`),
      signal: abort.signal,
    });
    await writeLine(io.stdout, JSON.stringify({ ...summary, registration: registrationJson(registration) }));
  } catch (error) {
    if (error instanceof SimulationFatalError) throw new UsageError(error.message);
    throw error;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await transport.close();
  }
}

/** The registration counts without the gateways' API keys. */
function registrationJson(registration: Awaited<ReturnType<typeof registerFleet>> | undefined) {
  if (registration === undefined) return null;
  return {
    groupsCreated: registration.groupsCreated,
    metersWritten: registration.metersWritten,
    keysWritten: registration.keysWritten,
    gatewaysCreated: registration.gatewaysCreated,
    gateways: registration.gateways.map((gateway) => gateway.id),
  };
}
