import { workerData } from 'node:worker_threads';
import { decodeTelegram } from '@hes/wmbus';
import { decodeOptionsFor, makeMeters } from './workload';
import type { PackedBatch } from './workload';

/**
 * Piscina worker for the codec benchmark: decrypts and decodes one batch of telegrams per task and
 * returns the main reading (first volume record) of each, plus the number that failed. The key table
 * is rebuilt here from the shared seed, as a decryptor worker would load it once from the key store.
 */
const options = decodeOptionsFor(makeMeters((workerData as { meters: number }).meters));

export interface BatchResult {
  decoded: number;
  failed: number;
  volumes: Float64Array;
}

export default function decodeBatch(batch: PackedBatch): BatchResult {
  const bytes = Buffer.from(batch.bytes.buffer, batch.bytes.byteOffset, batch.bytes.byteLength);
  const volumes = new Float64Array(batch.ends.length);
  let failed = 0;
  let start = 0;
  for (let i = 0; i < batch.ends.length; i++) {
    const end = batch.ends[i];
    const result = decodeTelegram(bytes.subarray(start, end), options);
    start = end;
    if (!result.ok) {
      failed++;
      continue;
    }
    const volume = result.records.find((r) => r.quantity === 'volume')?.value;
    volumes[i] = typeof volume === 'number' ? volume : NaN;
  }
  return { decoded: batch.ends.length - failed, failed, volumes };
}
