import { ApiValidationException } from './api-error';

/**
 * Opaque page cursors: base64url of a small JSON object naming the last row of a page. Clients pass them back
 * untouched; anything that does not decode to the expected shape is a 400 on the `cursor` parameter.
 */
export function encodeCursor(position: Record<string, string>): string {
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

export function decodeCursor<K extends string>(cursor: string, fields: Record<K, RegExp>): Record<K, string> {
  const invalid = () =>
    new ApiValidationException([{ field: 'cursor', message: 'is not a cursor of this list' }]);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof value !== 'object' || value === null) throw invalid();
  const position = {} as Record<K, string>;
  for (const [name, pattern] of Object.entries(fields) as [K, RegExp][]) {
    const field = (value as Record<string, unknown>)[name];
    if (typeof field !== 'string' || !pattern.test(field)) throw invalid();
    position[name] = field;
  }
  return position;
}
