import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

const localStackScript = resolve(__dirname, '../../../scripts/local-stack.sh');

/** Parses the `export NAME=value` lines that scripts/local-stack.sh prints. */
export function parseStackEnv(output: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of output.split('\n')) {
    const match = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) env[match[1]] = match[2];
  }
  return env;
}

/**
 * Runs `scripts/local-stack.sh up` (installs/starts PostgreSQL, Redis, Mosquitto and the Kafka mock; well under a
 * second when all are up) and returns the environment it prints.
 */
export function ensureLocalStack(): Record<string, string> {
  const output = execFileSync('bash', [localStackScript, 'up'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return parseStackEnv(output);
}
