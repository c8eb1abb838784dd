import { TaskDecoder } from './decode-task';
import type { DecodeTask, DecodeTaskResult } from './decode-task';

/**
 * Piscina worker entry (compiled to dist/apps/decryptor/src/decode/decode.worker.js). One decoder per
 * thread, so its compact-format store survives between tasks of the same format version.
 */
const decoder = new TaskDecoder();

export default function decodeTask(task: DecodeTask): DecodeTaskResult {
  return decoder.decode(task);
}
