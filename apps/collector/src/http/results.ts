import type { ItemParse } from '../ingest/telegram-item';
import type { ItemResult } from '../ingest/pipeline';

export interface BatchResponse {
  accepted: number;
  duplicates: number;
  rejected: number;
  results: ItemResult[];
}

export function batchResponse(results: ItemResult[]): BatchResponse {
  let accepted = 0;
  let duplicates = 0;
  for (const result of results) {
    if (result.status === 'accepted') accepted++;
    else if (result.status === 'duplicate') duplicates++;
  }
  return { accepted, duplicates, rejected: results.length - accepted - duplicates, results };
}

export function parseJsonText(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, message: `not valid JSON: ${(error as Error).message}` };
  }
}

export function rejectedItem(code: string, message: string): ItemParse {
  return { ok: false, reason: { code, message } };
}
