import { ensureLocalStack } from './local-stack';

/**
 * jest globalSetup of the `integration` project (see jest.config.js): jest runs it only when at least one
 * `*.int.spec.ts` file is selected, so unit-only runs never touch the services.
 *
 * Makes sure the local stack is up and passes its environment (KAFKA_BROKERS, DATABASE_URL, REDIS_URL, MQTT_URL,
 * HES_MASTER_KEY_FILE) to the test workers, which inherit this process's environment. Variables already set win,
 * so a run can point at other services. HES_SKIP_STACK=1 skips the script when the services are managed elsewhere.
 */
export default function globalSetup(): void {
  if (process.env.HES_SKIP_STACK === '1') return;
  for (const [name, value] of Object.entries(ensureLocalStack())) {
    if (process.env[name] === undefined) process.env[name] = value;
  }
}
