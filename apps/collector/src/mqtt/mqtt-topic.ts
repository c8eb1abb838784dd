/**
 * The gateway id of an MQTT message: the topic level matched by the pattern's first single-level
 * wildcard (`hes/gw/+/telegrams` → `hes/gw/gw-17/telegrams` gives `gw-17`). A pattern without `+`
 * identifies no gateway, so the whole topic is used.
 */
export function gatewayIdFromTopic(pattern: string, topic: string): string | undefined {
  const patternLevels = pattern.split('/');
  const wildcard = patternLevels.indexOf('+');
  if (wildcard === -1) return topic;
  const level = topic.split('/')[wildcard];
  return level === undefined || level.length === 0 ? undefined : level;
}

/** MQTT payload → items of the shared schema: one item object, an array of items, or a bare telegram string. */
export function itemsFromPayload(
  payload: Buffer,
): { ok: true; items: unknown[] } | { ok: false; message: string } {
  const text = payload.toString('utf8').trim();
  if (text.length === 0) return { ok: false, message: 'empty payload' };
  const first = text[0];
  if (first !== '[' && first !== '{' && first !== '"') return { ok: true, items: [text] };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, message: `not valid JSON: ${(error as Error).message}` };
  }
  if (Array.isArray(value)) return { ok: true, items: value };
  return { ok: true, items: [value] };
}
