import Redis, { RedisOptions } from 'ioredis';
import { CacheKeys, CachedEvent, CachedReading, quantityKey } from './keys';

/** Redis could not take or serve the operation now; the caller carries on (storage is the source of truth). */
export class CacheUnavailableError extends Error {
  constructor(operation: string, options?: { cause?: unknown }) {
    const detail = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`Redis unavailable for ${operation}${detail}`, options);
    this.name = 'CacheUnavailableError';
  }
}

export interface ReadingCacheOptions {
  /** redis://host:port[/db] */
  url: string;
  /** Prefix of every key and channel. Default 'hes:'. */
  keyPrefix?: string;
  /** Length of the hot window per meter+quantity. Default 24 h. */
  windowMs?: number;
  /**
   * Most meter+quantity latest values remembered while Redis is down, for replay on reconnect. Past this
   * the cache reports `complete: false` from catchUp and the owner rebuilds latest values from storage.
   * Default 200,000 (~ one decryptor's readings for tens of minutes at design load).
   */
  maxDirtyEntries?: number;
  /** Connect timeout; also bounds how long a write can wait for a dead server. Default 2 s. */
  connectTimeoutMs?: number;
  /** A command or pipeline not answered within this time fails (a hung server must not stall the decryptor). Default 2 s. */
  commandTimeoutMs?: number;
  /**
   * Readings per script call of `applyReadings`, at most (a single meter with more goes alone in its call).
   * Redis runs a script to the end before serving anyone else, at ≈ 4–6 µs per reading, so this bounds how
   * long one write holds up the API's reads. Default 100 (≈ 0.5 ms): measured with 6,700 readings/s written
   * in 3,000-reading batches, the API's latest p99 at 2,000/s was 23 ms in one call, 10–14 ms at 500, 6–7 ms at
   * 250 and 5 ms at 100, against 2.6 ms without writes (bench/README.md); each call costs the writer ≈ 0.15 ms.
   */
  maxReadingsPerCall?: number;
  /** Called with the number of readings (write) or lookups (read) the cache could not handle. */
  onMiss?: (operation: 'write' | 'read', count: number) => void;
  /** Extra ioredis options (tests); the fail-fast settings below always win. */
  redisOptions?: RedisOptions;
}

export interface CatchUpResult {
  /** Latest values replayed into Redis. */
  replayed: number;
  /** false when the dirty set overflowed during the outage: some latest values must be rebuilt from storage. */
  complete: boolean;
}

export interface WindowPoint {
  ts: number;
  value: number;
  unit: string;
}

/**
 * Latest value per meter+quantity (a hash per meter, guarded so an older back-dated reading never replaces a
 * newer one), a hot window per meter (sorted set of its telegrams by ts, trimmed to `windowMs`), and live pub/sub
 * channels per meter group and per meter for the API's WebSocket gateway.
 *
 * Outage behaviour: the client never queues commands while disconnected (enableOfflineQueue false, one
 * attempt per command), so a write fails at once with CacheUnavailableError instead of buffering without
 * bound. The newest value of each affected meter+quantity is remembered in a bounded in-memory "dirty" map
 * and replayed automatically when the connection is ready again (or by calling `catchUp`). Window points and
 * live notifications from the outage are not replayed: the window refills with new readings and clients
 * re-read ranges from storage; only "latest", which dashboards show, must be exact.
 */
export class ReadingCache {
  readonly keys: CacheKeys;
  private readonly redis: Redis;
  private readonly windowMs: number;
  private readonly maxDirtyEntries: number;
  private readonly maxReadingsPerCall: number;
  private readonly onMiss: ReadingCacheOptions['onMiss'];
  private readonly dirty = new Map<string, CachedReading>();
  private dirtyOverflowed = false;
  private catchUpInFlight: Promise<CatchUpResult> | undefined;

  constructor(options: ReadingCacheOptions) {
    this.keys = new CacheKeys(options.keyPrefix ?? 'hes:');
    if (this.keys.prefix.includes(PIECE_SEPARATOR)) throw new Error('keyPrefix must not contain a NUL byte');
    this.windowMs = options.windowMs ?? 24 * 60 * 60 * 1000;
    this.maxDirtyEntries = options.maxDirtyEntries ?? 200_000;
    this.maxReadingsPerCall = options.maxReadingsPerCall ?? 100;
    if (!Number.isInteger(this.maxReadingsPerCall) || this.maxReadingsPerCall < 1)
      throw new Error(`maxReadingsPerCall must be a positive integer, got ${this.maxReadingsPerCall}`);
    this.onMiss = options.onMiss;
    this.redis = new Redis(options.url, {
      ...options.redisOptions,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: options.connectTimeoutMs ?? 2000,
      commandTimeout: options.commandTimeoutMs ?? 2000,
      // ioredis arms this timer on close even for an already-closed socket; keep it short so shutdown is prompt.
      disconnectTimeout: 200,
      retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
    });
    this.redis.defineCommand('hesApplyReadings', { lua: APPLY_READINGS });
    // Replay remembered latest values as soon as the server is back; failures leave them dirty for next time.
    this.redis.on('ready', () => {
      if (this.dirty.size > 0) this.catchUp().catch(() => undefined);
    });
    // ioredis emits 'error' for every failed reconnect; the outage is reported through failing calls instead.
    this.redis.on('error', () => undefined);
  }

  /** Connects; resolves even when Redis is down (the client keeps reconnecting in the background). */
  async connect(): Promise<boolean> {
    try {
      await this.redis.connect();
      return true;
    } catch {
      return false;
    }
  }

  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  /** Meter+quantity latest values waiting to be replayed. */
  get dirtyCount(): number {
    return this.dirty.size;
  }

  /** Closes the connection and stops reconnecting; resolves once the client has fully ended. */
  async close(): Promise<void> {
    // Between reconnect attempts there is no socket: disconnect only cancels the pending attempt, no 'end' follows.
    if (this.redis.status === 'end' || this.redis.status === 'reconnecting') {
      this.redis.disconnect();
      return;
    }
    const ended = new Promise<void>((resolve) => this.redis.once('end', () => resolve()));
    this.redis.disconnect();
    await ended;
  }

  /**
   * Applies a batch of newly stored readings (per meter: guarded latest per meter+quantity, one window point
   * per telegram with trim + expiry, the meter channel's notification; then one notification per meter group
   * channel carrying the call's readings for it). The batch is cut on meter boundaries into script calls of
   * at most `maxReadingsPerCall` readings, sent one after another: Redis serves other clients (the API's
   * latest reads) between them instead of waiting for the whole batch. A meter's readings stay in one call,
   * so each telegram stays one window point. A group channel therefore gets one notification per call that
   * has readings of the group, not one per batch (the WebSocket hub coalesces them anyway). Each call's
   * meters travel as a single packed argument, keeping the per-command and per-argument cost of client and
   * server off the hot path. Returns how many latest values were written, over all calls.
   */
  async applyReadings(readings: CachedReading[], nowMs = Date.now()): Promise<{ latestUpdated: number }> {
    if (readings.length === 0 && this.dirty.size === 0) return { latestUpdated: 0 };
    const replay = this.dirty.size > 0 ? [...this.dirty.values()] : [];
    const batch = new PackedBatch(this.keys, nowMs - this.windowMs);
    // Replayed values are added first, so their meters lead the batch and go in the first call(s).
    for (const r of replay) batch.add(r, false);
    let unpacked = 0;
    for (const r of readings) if (!batch.add(r, true)) unpacked += 1;
    if (unpacked > 0) this.onMiss?.('write', unpacked);

    let latestUpdated = 0;
    try {
      const scripted = this.redis as unknown as {
        hesApplyReadings(numKeys: number, packed: Buffer): Promise<number>;
      };
      const calls = batch.calls(this.windowMs, this.maxReadingsPerCall);
      let next = calls.next();
      while (!next.done) {
        this.requireReady();
        const call = scripted.hesApplyReadings(0, next.value);
        // The following call is packed while Redis runs this one; it is sent only once this one has answered.
        next = calls.next();
        latestUpdated += await call;
      }
    } catch (error) {
      // The whole batch is remembered, also the readings of calls that succeeded: replay is ts-guarded, so
      // writing those latest values again is harmless, and it keeps failure handling per batch.
      this.failWrite(readings);
      throw new CacheUnavailableError('writing readings', { cause: error });
    }
    for (const r of replay) {
      if (this.dirty.get(dirtyKey(r)) === r) this.dirty.delete(dirtyKey(r));
    }
    if (replay.length > 0 && this.dirty.size === 0) this.dirtyOverflowed = false;
    return { latestUpdated };
  }

  /** Publishes events on their group and meter channels (not stored: events live in the database). */
  async publishEvents(events: CachedEvent[]): Promise<void> {
    if (events.length === 0) return;
    const byGroup = new Map<string, CachedEvent[]>();
    const byMeter = new Map<string, CachedEvent[]>();
    for (const e of events) {
      pushTo(byGroup, e.meterGroup, e);
      pushTo(byMeter, e.meterId, e);
    }
    const pipeline = this.redis.pipeline();
    for (const [group, list] of byGroup)
      pipeline.publish(this.keys.eventsByGroup(group), JSON.stringify(list));
    for (const [meterId, list] of byMeter)
      pipeline.publish(this.keys.eventsByMeter(meterId), JSON.stringify(list));
    try {
      this.requireReady();
      const results = await pipeline.exec();
      const failure = results?.find(([error]) => error !== null)?.[0];
      if (!results || failure) throw failure ?? new Error('pipeline discarded');
    } catch (error) {
      this.onMiss?.('write', events.length);
      throw new CacheUnavailableError('publishing events', { cause: error });
    }
  }

  /**
   * Replays remembered latest values. `complete: false` means values were dropped when the dirty map was
   * full; the owner should then re-apply the latest values from storage (e.g. the newest reading per
   * meter+quantity) with `applyReadings`, which is safe because the write is ts-guarded.
   */
  catchUp(): Promise<CatchUpResult> {
    if (!this.catchUpInFlight) {
      const complete = !this.dirtyOverflowed;
      const replayed = this.dirty.size;
      this.catchUpInFlight = this.applyReadings([])
        .then(() => ({ replayed, complete }))
        .finally(() => {
          this.catchUpInFlight = undefined;
        });
    }
    return this.catchUpInFlight;
  }

  /** Latest values of one meter, by quantity key. Throws CacheUnavailableError when Redis is down. */
  async getLatest(meterId: string): Promise<Record<string, CachedReading>> {
    let raw: Record<string, string>;
    try {
      this.requireReady();
      raw = await this.redis.hgetall(this.keys.latest(meterId));
    } catch (error) {
      this.onMiss?.('read', 1);
      throw new CacheUnavailableError('reading latest values', { cause: error });
    }
    const latest: Record<string, CachedReading> = {};
    for (const [field, json] of Object.entries(raw)) latest[field] = JSON.parse(json) as CachedReading;
    if (Object.keys(latest).length === 0) this.onMiss?.('read', 1);
    return latest;
  }

  /** Window points of one meter+quantity key from `fromTs` (inclusive), oldest first. */
  async getWindow(meterId: string, quantity: string, fromTs = 0): Promise<WindowPoint[]> {
    let members: string[];
    try {
      this.requireReady();
      members = await this.redis.zrangebyscore(this.keys.window(meterId), fromTs, '+inf');
    } catch (error) {
      this.onMiss?.('read', 1);
      throw new CacheUnavailableError('reading the window', { cause: error });
    }
    const points: WindowPoint[] = [];
    for (const member of members) {
      const point = JSON.parse(member) as WindowMember;
      const reading = point.values[quantity];
      if (reading) points.push({ ts: point.ts, value: reading.value, unit: reading.unit });
    }
    return points;
  }

  /**
   * Commands are only sent on a ready connection: while disconnected ioredis would leave a pipeline with a
   * script call unsettled, and would start a command-timeout timer for each rejected command.
   */
  private requireReady(): void {
    if (this.redis.status !== 'ready') throw new Error(`connection is ${this.redis.status}`);
  }

  private failWrite(readings: CachedReading[]): void {
    this.onMiss?.('write', readings.length);
    for (const r of readings) {
      const key = dirtyKey(r);
      const known = this.dirty.get(key);
      if (known) {
        if (r.ts >= known.ts) this.dirty.set(key, r);
      } else if (this.dirty.size < this.maxDirtyEntries) {
        this.dirty.set(key, r);
      } else {
        this.dirtyOverflowed = true;
      }
    }
  }
}

/**
 * Separates the pieces of the packed script argument. JSON text never contains it raw (JSON.stringify
 * escapes it), and keys, channels and quantity keys holding it are refused before packing.
 */
const PIECE_SEPARATOR = '\u0000';

/**
 * Applies whole meters of a batch (see ReadingCache.applyReadings for how a batch is cut into calls) in a
 * single server-side call. The keys travel inside the argument rather than in KEYS: one call touches every
 * meter it carries, which a single standalone server (the deployment this cache targets) allows and a
 * cluster would not.
 * ARGV[1] = the call's pieces, each followed by a NUL byte:
 *   window start (ts below it are trimmed), windowMs, group count, the group channels, meter count, then
 *   per meter: latest hash key, meter channel ('' = no publish), window key, telegram count, then
 *   per telegram: ts, group slot (1-based index into the group channels; 0 = replayed latest values: not
 *   published), window member ('' = not in the window), reading count, then
 *   per reading: quantity key, latest JSON.
 * "latest" is only replaced when the stored ts is not newer, so back-dated readings (handheld uploads,
 * replays) never regress it. The meter and group channels carry the new readings as a JSON array of the
 * latest-value objects. Returns the number of latest values written.
 */
const APPLY_READINGS = `
-- A plain find (memchr) per piece: a pattern would test the character class byte by byte.
local packed = ARGV[1]
local find = string.find
local sub = string.sub
local A = {}
local n = 0
local from = 1
while true do
  local at = find(packed, '\\0', from, true)
  if not at then break end
  n = n + 1
  A[n] = sub(packed, from, at - 1)
  from = at + 1
end
local windowStart = A[1]
local windowMs = A[2]
local groupCount = tonumber(A[3])
local groupChannels = {}
local groupReadings = {}
for g = 1, groupCount do
  groupChannels[g] = A[3 + g]
  groupReadings[g] = {}
end
local i = 4 + groupCount
local meters = tonumber(A[i])
i = i + 1
local updated = 0
for m = 1, meters do
  local latestKey = A[i]
  local channel = A[i + 1]
  local windowKey = A[i + 2]
  local telegrams = tonumber(A[i + 3])
  i = i + 4
  -- One HMGET and one HSET per meter instead of a pair per reading.
  local fields = {}
  local at = i
  for t = 1, telegrams do
    local count = tonumber(A[at + 3])
    at = at + 4
    for r = 1, count do
      fields[#fields + 1] = A[at]
      at = at + 2
    end
  end
  local current = redis.call('HMGET', latestKey, unpack(fields))
  local newest = {}
  local written = {}
  local writes = {}
  local points = {}
  local fresh = {}
  local k = 0
  for t = 1, telegrams do
    local ts = tonumber(A[i])
    local slot = tonumber(A[i + 1])
    if A[i + 2] ~= '' then
      points[#points + 1] = ts
      points[#points + 1] = A[i + 2]
    end
    local count = tonumber(A[i + 3])
    i = i + 4
    for r = 1, count do
      local field = A[i]
      local json = A[i + 1]
      i = i + 2
      k = k + 1
      local known = newest[field]
      if known == nil then
        known = false
        local stored = current[k]
        if stored then
          known = tonumber(string.match(stored, '^{"ts":(%-?[%d%.eE%+]+)'))
          if not known then
            local ok, decoded = pcall(cjson.decode, stored)
            known = ok and type(decoded) == 'table' and tonumber(decoded.ts) or false
          end
        end
      end
      if not known or known <= ts then
        newest[field] = ts
        if written[field] == nil then
          writes[#writes + 1] = field
          writes[#writes + 1] = json
          written[field] = #writes
        else
          writes[written[field]] = json
        end
        updated = updated + 1
      else
        newest[field] = known
      end
      if slot > 0 then
        fresh[#fresh + 1] = json
        local list = groupReadings[slot]
        list[#list + 1] = json
      end
    end
  end
  if #writes > 0 then redis.call('HSET', latestKey, unpack(writes)) end
  if #points > 0 then
    redis.call('ZADD', windowKey, unpack(points))
    redis.call('ZREMRANGEBYSCORE', windowKey, '-inf', '(' .. windowStart)
    redis.call('PEXPIRE', windowKey, windowMs)
  end
  if channel ~= '' and #fresh > 0 then
    redis.call('PUBLISH', channel, '[' .. table.concat(fresh, ',') .. ']')
  end
end
for g = 1, groupCount do
  if #groupReadings[g] > 0 then
    redis.call('PUBLISH', groupChannels[g], '[' .. table.concat(groupReadings[g], ',') .. ']')
  end
end
return updated
`;

/** One window point: a telegram's readings at one ts, by quantity key. */
interface WindowMember {
  ts: number;
  values: Record<string, { value: number; unit: string }>;
}

/** Readings of one meter at one ts (a telegram), as the script takes them. */
interface PackedTelegram {
  ts: number;
  /** 1-based group channel slot; 0 for replayed latest values. */
  groupSlot: number;
  /** A fresh telegram inside the hot window: it becomes a window point. */
  inWindow: boolean;
  readings: CachedReading[];
  /** Quantity key of each reading; a quantity seen again starts another telegram (another point). */
  fields: string[];
}

/** The readings of one meter in a batch, by telegram. */
interface PackedMeter {
  telegrams: PackedTelegram[];
  /** Holds readings of this batch (not only replayed values): the meter channel is notified. */
  fresh: boolean;
  readings: number;
}

/**
 * The script's arguments for one batch, grouped reading by reading and written out as bytes per call (see
 * APPLY_READINGS for the layout): no per-reading strings are kept until the call, and no call-sized string
 * is built and then encoded once more for the socket.
 */
class PackedBatch {
  /** Batch-wide slot (1-based) of each group; a call renumbers the groups it carries. */
  private readonly groupSlots = new Map<string, number>();
  private readonly groups: string[] = [];
  private readonly meters = new Map<string, PackedMeter>();

  constructor(
    private readonly keys: CacheKeys,
    private readonly windowStart: number,
  ) {}

  /**
   * `fresh`: a reading of this batch (published, windowed); otherwise a replayed latest value. Returns
   * false, leaving the reading out, when a name of it holds the separator (no key or field can be made).
   */
  add(r: CachedReading, fresh: boolean): boolean {
    const field = quantityKey(r);
    if (
      field.includes(PIECE_SEPARATOR) ||
      r.meterId.includes(PIECE_SEPARATOR) ||
      r.meterGroup.includes(PIECE_SEPARATOR)
    )
      return false;
    let meter = this.meters.get(r.meterId);
    if (!meter) this.meters.set(r.meterId, (meter = { telegrams: [], fresh: false, readings: 0 }));
    meter.fresh ||= fresh;
    meter.readings += 1;
    const groupSlot = fresh ? this.groupSlot(r.meterGroup) : 0;
    let telegram = meter.telegrams[meter.telegrams.length - 1];
    if (
      !telegram ||
      telegram.ts !== r.ts ||
      telegram.groupSlot !== groupSlot ||
      telegram.fields.includes(field)
    ) {
      const inWindow = fresh && r.ts >= this.windowStart;
      telegram = { ts: r.ts, groupSlot, inWindow, readings: [], fields: [] };
      meter.telegrams.push(telegram);
    }
    telegram.readings.push(r);
    telegram.fields.push(field);
    return true;
  }

  /**
   * One argument per script call: whole meters in batch order, at most `maxReadings` readings per call
   * unless a single meter has more (it then goes alone). Packed lazily, one call at a time.
   */
  *calls(windowMs: number, maxReadings: number): Generator<Buffer, void, undefined> {
    let meters: [string, PackedMeter][] = [];
    let readings = 0;
    for (const entry of this.meters) {
      if (meters.length > 0 && readings + entry[1].readings > maxReadings) {
        yield this.pack(meters, readings, windowMs);
        meters = [];
        readings = 0;
      }
      meters.push(entry);
      readings += entry[1].readings;
    }
    if (meters.length > 0) yield this.pack(meters, readings, windowMs);
  }

  private pack(meters: [string, PackedMeter][], readings: number, windowMs: number): Buffer {
    // The call's own group slots (index: batch-wide slot), so it names only the channels it publishes on.
    const callSlots: number[] = [0];
    const callGroups: string[] = [];
    for (const [, meter] of meters) {
      for (const t of meter.telegrams) {
        if (t.groupSlot > 0 && callSlots[t.groupSlot] === undefined) {
          callGroups.push(this.groups[t.groupSlot - 1]);
          callSlots[t.groupSlot] = callGroups.length;
        }
      }
    }
    const out = new PieceWriter(readings * PACKED_BYTES_PER_READING + 4096);
    out.piece(String(this.windowStart));
    out.piece(String(windowMs));
    out.piece(String(callGroups.length));
    for (const group of callGroups) out.piece(this.keys.readingsByGroup(group));
    out.piece(String(meters.length));
    for (const [meterId, meter] of meters) {
      out.piece(this.keys.latest(meterId));
      out.piece(meter.fresh ? this.keys.readingsByMeter(meterId) : '');
      out.piece(this.keys.window(meterId));
      out.piece(String(meter.telegrams.length));
      for (const t of meter.telegrams) {
        out.piece(String(t.ts));
        out.piece(String(callSlots[t.groupSlot]));
        if (t.inWindow) writeWindowMember(out, t);
        out.end();
        out.piece(String(t.readings.length));
        t.readings.forEach((r, j) => {
          out.piece(t.fields[j]);
          out.piece(latestJson(r));
        });
      }
    }
    return out.bytes();
  }

  private groupSlot(group: string): number {
    let slot = this.groupSlots.get(group);
    if (slot === undefined) {
      this.groups.push(group);
      this.groupSlots.set(group, (slot = this.groups.length));
    }
    return slot;
  }
}

/** A first guess at the packed size (latest JSON, quantity key and window value of a reading). */
const PACKED_BYTES_PER_READING = 256;

/** The telegram's window point: JSON {ts, values: {<quantity key>: {value, unit}}} (see CacheKeys.window). */
function writeWindowMember(out: PieceWriter, t: PackedTelegram): void {
  out.text(`{"ts":${t.ts},"values":{`);
  t.readings.forEach((r, j) => {
    const value = `{"value":${JSON.stringify(r.value)},"unit":${JSON.stringify(r.unit)}}`;
    out.text(`${j > 0 ? ',' : ''}${JSON.stringify(t.fields[j])}:${value}`);
  });
  out.text('}}');
}

/** UTF-8 pieces, each ended by the separator, in a buffer that grows as needed. */
class PieceWriter {
  private buffer: Buffer;
  private length = 0;

  constructor(initialBytes: number) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  /** Appends to the current piece. */
  text(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    this.reserve(text.length * 3);
    this.length += this.buffer.write(text, this.length, 'utf8');
  }

  /** Ends the current piece. */
  end(): void {
    this.reserve(1);
    this.buffer[this.length++] = 0;
  }

  piece(text: string): void {
    this.text(text);
    this.end();
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.length + bytes, this.buffer.length * 2));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
}

function latestJson(r: CachedReading): string {
  return JSON.stringify({
    ts: r.ts,
    value: r.value,
    unit: r.unit,
    quantity: r.quantity,
    storage: r.storage ?? 0,
    tariff: r.tariff ?? 0,
    meterId: r.meterId,
    meterGroup: r.meterGroup,
  });
}

function dirtyKey(r: CachedReading): string {
  return `${r.meterId}\u0000${quantityKey(r)}`;
}

function pushTo<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
