/** A dependency probe: resolves when the dependency answers, rejects (or times out) otherwise. */
export type HealthChecks = Record<string, () => Promise<void>>;

export interface ProbeResult {
  status: 'up' | 'down';
  /** Why the dependency counts as down. */
  error?: string;
}

export interface HealthReport {
  /** ok when every dependency is up. */
  status: 'ok' | 'unavailable';
  checks: Record<string, ProbeResult>;
}

const CHECK_TIMEOUT_MS = 2000;

/**
 * Runs every probe at once, each bounded by a timeout so one hanging dependency cannot hold the health
 * answer, and names the dependencies that are down with the reason.
 */
export async function checkHealth(checks: HealthChecks): Promise<HealthReport> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, probe]) => [name, await runProbe(probe)] as const),
  );
  const healthy = entries.every(([, result]) => result.status === 'up');
  return { status: healthy ? 'ok' : 'unavailable', checks: Object.fromEntries(entries) };
}

async function runProbe(probe: () => Promise<void>): Promise<ProbeResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)),
          CHECK_TIMEOUT_MS,
        );
      }),
    ]);
    return { status: 'up' };
  } catch (error) {
    return { status: 'down', error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
