import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

const SCRAPE_REQUEST = 'hes:metrics:cluster-scrape';
const SCRAPE_RESPONSE = 'hes:metrics:cluster-scraped';
/** Longer than prom-client's own 5 s wait for the workers' answers, so that its timeout is the error reported. */
const SCRAPE_TIMEOUT_MS = 8000;

interface ScrapeRequest {
  type: typeof SCRAPE_REQUEST;
  id: number;
}

interface ScrapeResponse {
  type: typeof SCRAPE_RESPONSE;
  id: number;
  text?: string;
  error?: string;
}

/** Whether an IPC message between a cluster primary and its workers is an object of the given `type`. */
export function isMessageOfType<T extends { type: string }>(message: unknown, type: T['type']): message is T {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}

/**
 * In a node:cluster primary: answers each worker's scrape request with the metrics of every worker on the host.
 * prom-client's AggregatorRegistry asks all workers for their registries over IPC and combines them by each
 * metric's aggregator: counters and histograms are summed, default gauges such as event-loop lag averaged or
 * summed as prom-client defines them. Returns a function that stops answering.
 */
export function serveClusterMetrics(): () => void {
  const aggregator = new AggregatorRegistry();
  const onMessage = (
    worker: { send(message: ScrapeResponse): unknown; isConnected(): boolean },
    message: unknown,
  ) => {
    if (!isMessageOfType<ScrapeRequest>(message, SCRAPE_REQUEST)) return;
    const reply = (response: Omit<ScrapeResponse, 'type' | 'id'>) => {
      if (worker.isConnected()) worker.send({ type: SCRAPE_RESPONSE, id: message.id, ...response });
    };
    aggregator.clusterMetrics().then(
      (text) => reply({ text }),
      (error: unknown) => reply({ error: error instanceof Error ? error.message : String(error) }),
    );
  };
  cluster.on('message', onMessage);
  return () => {
    cluster.off('message', onMessage);
  };
}

const pendingScrapes = new Map<
  number,
  { resolve(text: string): void; reject(error: Error): void; timer: NodeJS.Timeout }
>();
let nextScrapeId = 0;
let workerListening = false;

function onScrapeResponse(message: unknown): void {
  if (!isMessageOfType<ScrapeResponse>(message, SCRAPE_RESPONSE)) return;
  const pending = pendingScrapes.get(message.id);
  if (!pending) return;
  pendingScrapes.delete(message.id);
  clearTimeout(pending.timer);
  if (message.error !== undefined || message.text === undefined)
    pending.reject(new Error(`cluster metrics: ${message.error ?? 'the primary sent no metrics'}`));
  else pending.resolve(message.text);
}

/**
 * In a node:cluster worker: makes `registry` this process's share of the host's metrics (what the primary
 * collects from it) and returns a scrape function that asks the primary (serveClusterMetrics) for the metrics of
 * all workers, so a /metrics request answered by any worker describes the whole host.
 */
export function contributeToClusterMetrics(registry: Registry): () => Promise<string> {
  if (!cluster.isWorker || !process.send)
    throw new Error('cluster metrics: only a node:cluster worker contributes to them');
  AggregatorRegistry.setRegistries([registry]);
  // prom-client installs the worker's answer to the primary's collection requests when an AggregatorRegistry is
  // constructed; this instance is not used otherwise.
  new AggregatorRegistry();
  if (!workerListening) {
    process.on('message', onScrapeResponse);
    workerListening = true;
  }
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = nextScrapeId++;
      const timer = setTimeout(() => {
        pendingScrapes.delete(id);
        reject(new Error(`cluster metrics: the primary did not answer within ${SCRAPE_TIMEOUT_MS} ms`));
      }, SCRAPE_TIMEOUT_MS);
      pendingScrapes.set(id, { resolve, reject, timer });
      process.send!({ type: SCRAPE_REQUEST, id } satisfies ScrapeRequest, undefined, undefined, (error) => {
        if (!error) return;
        pendingScrapes.delete(id);
        clearTimeout(timer);
        reject(new Error(`cluster metrics: cannot ask the primary (${error.message})`));
      });
    });
}
