/**
 * Incremental NDJSON splitting for gateway uploads streamed in one request. Memory is bounded by
 * `maxLineBytes`: a line longer than that is not buffered; it is reported as one oversized entry
 * and the splitter skips ahead to the next newline, so one bad line never stalls the stream.
 */
export type NdjsonEntry = { kind: 'line'; text: string } | { kind: 'oversized'; bytes: number };

const NEWLINE = 0x0a;

export class NdjsonSplitter {
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes of the current line when it has already exceeded the limit (0 when not skipping). */
  private skippedBytes = 0;

  constructor(private readonly maxLineBytes: number) {}

  push(chunk: Buffer): NdjsonEntry[] {
    const entries: NdjsonEntry[] = [];
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      this.append(chunk.subarray(start, end));
      if (newline === -1) break;
      this.finishLine(entries);
      start = newline + 1;
    }
    return entries;
  }

  end(): NdjsonEntry[] {
    const entries: NdjsonEntry[] = [];
    this.finishLine(entries);
    return entries;
  }

  private append(part: Buffer): void {
    if (part.length === 0) return;
    if (this.skippedBytes > 0) {
      this.skippedBytes += part.length;
      return;
    }
    if (this.pendingBytes + part.length > this.maxLineBytes) {
      this.skippedBytes = this.pendingBytes + part.length;
      this.pending.length = 0;
      this.pendingBytes = 0;
      return;
    }
    // Copy: the caller's chunk may be reused by the stream once we return.
    this.pending.push(Buffer.from(part));
    this.pendingBytes += part.length;
  }

  private finishLine(entries: NdjsonEntry[]): void {
    if (this.skippedBytes > 0) {
      entries.push({ kind: 'oversized', bytes: this.skippedBytes });
      this.skippedBytes = 0;
      return;
    }
    const text = Buffer.concat(this.pending, this.pendingBytes).toString('utf8').trim();
    this.pending.length = 0;
    this.pendingBytes = 0;
    if (text.length > 0) entries.push({ kind: 'line', text });
  }
}

/**
 * Reads NDJSON entries from a byte stream in groups of at most `groupSize`. The caller awaits each
 * group's processing before the next is read, so the socket is back-pressured instead of buffered.
 */
export async function* ndjsonGroups(
  stream: AsyncIterable<Buffer | string>,
  options: { maxLineBytes: number; groupSize: number },
): AsyncGenerator<NdjsonEntry[]> {
  const splitter = new NdjsonSplitter(options.maxLineBytes);
  let group: NdjsonEntry[] = [];
  for await (const chunk of stream) {
    for (const entry of splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)) {
      group.push(entry);
      if (group.length >= options.groupSize) {
        yield group;
        group = [];
      }
    }
  }
  group.push(...splitter.end());
  if (group.length > 0) yield group;
}
