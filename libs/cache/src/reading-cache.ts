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
 * newer one), a hot window per meter+quantity (sorted set by ts, trimmed to `windowMs`), and live pub/sub
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
  private readonly onMiss: ReadingCacheOptions['onMiss'];
  private readonly dirty = new Map<string, CachedReading>();
  private dirtyOverflowed = false;
  private catchUpInFlight: Promise<CatchUpResult> | undefined;

  constructor(options: ReadingCacheOptions) {
    this.keys = new CacheKeys(options.keyPrefix ?? 'hes:');
    this.windowMs = options.windowMs ?? 24 * 60 * 60 * 1000;
    this.maxDirtyEntries = options.maxDirtyEntries ?? 200_000;
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
   * Applies a batch of newly stored readings in one script call (per meter: guarded latest per
   * meter+quantity, window insert + trim + expiry, the meter channel's notification; then one notification
   * per meter group channel carrying the batch's readings for it). One call for the whole batch keeps the
   * per-command cost of client and server off the hot path. Returns how many latest values were written.
   */
  async applyReadings(readings: CachedReading[], nowMs = Date.now()): Promise<{ latestUpdated: number }> {
    if (readings.length === 0 && this.dirty.size === 0) return { latestUpdated: 0 };
    const replay = this.dirty.size > 0 ? [...this.dirty.values()] : [];
    const windowStart = nowMs - this.windowMs;
    const perMeter = new Map<string, MeterUpdate>();
    const meterUpdate = (meterId: string): MeterUpdate => {
      let update = perMeter.get(meterId);
      if (!update)
        perMeter.set(meterId, (update = { windowKeys: [], windowIndex: new Map(), entries: [], fresh: 0 }));
      return update;
    };
    for (const r of replay)
      meterUpdate(r.meterId).entries.push(quantityKey(r), String(r.ts), latestJson(r), '0', '');
    const byGroup = new Map<string, string[]>();
    for (const r of readings) {
      const update = meterUpdate(r.meterId);
      const field = quantityKey(r);
      const json = latestJson(r);
      let windowSlot = 0;
      if (r.ts >= windowStart) {
        windowSlot = update.windowIndex.get(field) ?? 0;
        if (windowSlot === 0) {
          windowSlot = update.windowKeys.push(this.keys.window(r.meterId, field));
          update.windowIndex.set(field, windowSlot);
        }
      }
      update.entries.push(field, String(r.ts), json, String(windowSlot), windowMember(r));
      update.fresh += 1;
      pushTo(byGroup, r.meterGroup, json);
    }

    const args: string[] = [String(windowStart), String(this.windowMs), String(perMeter.size)];
    for (const [meterId, update] of perMeter) {
      args.push(
        this.keys.latest(meterId),
        update.fresh > 0 ? this.keys.readingsByMeter(meterId) : '',
        String(update.windowKeys.length),
      );
      for (const key of update.windowKeys) args.push(key);
      args.push(String(update.entries.length / ENTRY_FIELDS));
      for (const value of update.entries) args.push(value);
    }
    args.push(String(byGroup.size));
    for (const [group, jsons] of byGroup) args.push(this.keys.readingsByGroup(group), `[${jsons.join(',')}]`);

    let latestUpdated: number;
    try {
      this.requireReady();
      const scripted = this.redis as unknown as {
        hesApplyReadings(numKeys: number, args: string[]): Promise<number>;
      };
      latestUpdated = await scripted.hesApplyReadings(0, args);
    } catch (error) {
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
      members = await this.redis.zrangebyscore(this.keys.window(meterId, quantity), fromTs, '+inf');
    } catch (error) {
      this.onMiss?.('read', 1);
      throw new CacheUnavailableError('reading the window', { cause: error });
    }
    return members.map((m) => JSON.parse(m) as WindowPoint);
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

/** Values per reading in the script's arguments: field, ts, latest JSON, window slot, window member. */
const ENTRY_FIELDS = 5;

/**
 * Applies a whole batch in a single server-side call. The keys are passed in ARGV rather than KEYS: one
 * call touches every meter of the batch, which a single standalone server (the deployment this cache
 * targets) allows and a cluster would not.
 * ARGV = window start (ts below it are trimmed), windowMs, meter count, then per meter:
 *        latest hash key, meter channel ('' = no publish), window key count, the window keys,
 *        reading count, then per reading (field, ts, latest JSON, window slot (1-based index into the
 *        meter's window keys, 0 = not in the window), window member ('' = a replayed latest value only));
 *        then group count and per group (channel, payload).
 * "latest" is only replaced when the stored ts is not newer, so back-dated readings (handheld uploads,
 * replays) never regress it. The meter channel carries the meter's new readings as a JSON array of the
 * latest-value objects. Returns the number of latest values written.
 */
const APPLY_READINGS = `
local windowStart = ARGV[1]
local windowMs = ARGV[2]
local i = 4
local updated = 0
for m = 1, tonumber(ARGV[3]) do
  local latestKey = ARGV[i]
  local channel = ARGV[i + 1]
  local windowBase = i + 2
  i = windowBase + tonumber(ARGV[windowBase]) + 1
  local count = tonumber(ARGV[i])
  local first = i + 1
  i = first + count * 5
  -- One HMGET and one HSET per meter instead of a pair per reading.
  local fields = {}
  for r = 0, count - 1 do fields[r + 1] = ARGV[first + r * 5] end
  local current = redis.call('HMGET', latestKey, unpack(fields))
  local newest = {}
  local written = {}
  local writes = {}
  local touched = {}
  local fresh = {}
  for r = 0, count - 1 do
    local at = first + r * 5
    local field = ARGV[at]
    local ts = tonumber(ARGV[at + 1])
    local known = newest[field]
    if known == nil then
      known = false
      local stored = current[r + 1]
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
        writes[#writes + 1] = ARGV[at + 2]
        written[field] = #writes
      else
        writes[written[field]] = ARGV[at + 2]
      end
      updated = updated + 1
    else
      newest[field] = known
    end
    local slot = tonumber(ARGV[at + 3])
    if slot > 0 then
      redis.call('ZADD', ARGV[windowBase + slot], ts, ARGV[at + 4])
      touched[slot] = true
    end
    if ARGV[at + 4] ~= '' then fresh[#fresh + 1] = ARGV[at + 2] end
  end
  if #writes > 0 then redis.call('HSET', latestKey, unpack(writes)) end
  for slot in pairs(touched) do
    redis.call('ZREMRANGEBYSCORE', ARGV[windowBase + slot], '-inf', '(' .. windowStart)
    redis.call('PEXPIRE', ARGV[windowBase + slot], windowMs)
  end
  if channel ~= '' and #fresh > 0 then
    redis.call('PUBLISH', channel, '[' .. table.concat(fresh, ',') .. ']')
  end
end
local groups = tonumber(ARGV[i])
i = i + 1
for g = 1, groups do
  redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
  i = i + 2
end
return updated
`;

interface MeterUpdate {
  windowKeys: string[];
  /** quantity key → 1-based index of its window key in `windowKeys`. */
  windowIndex: Map<string, number>;
  /** ENTRY_FIELDS values per reading. */
  entries: string[];
  /** Readings of this batch (not replayed latest values): they go on the meter channel. */
  fresh: number;
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

/** Window member: the reading's point in the hot window (same JSON as JSON.stringify of {ts, value, unit}). */
function windowMember(r: CachedReading): string {
  return `{"ts":${r.ts},"value":${JSON.stringify(r.value)},"unit":${JSON.stringify(r.unit)}}`;
}

function dirtyKey(r: CachedReading): string {
  return `${r.meterId}\u0000${quantityKey(r)}`;
}

function pushTo<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
