import { canAccessSociety, type Principal, type SocietyAccess } from '@hes/auth';
import type { CacheKeys, CachedEvent, CachedReading } from '@hes/cache';
import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import type { LiveMetrics } from './live-metrics';
import type { SubscriptionTarget } from './live-protocol';
import type { LiveRepository, MeterPlacement } from './live-repository';

/** What the hub needs from a connection: who it is, and where to put what arrives for it. */
export interface LiveSubscriber {
  readonly principal: Principal;
  deliverReading(reading: CachedReading): void;
  deliverEvent(event: CachedEvent): void;
  /** The hub ended a subscription (e.g. its meter moved to a society the subscriber cannot see). */
  subscriptionEnded(key: string, reason: string): void;
  /** The Redis feed was down for a while: what was published meanwhile never reached this instance. */
  liveInterrupted(): void;
}

/**
 * One resolved subscription target shared by every connection that follows it: a meter, a society, or a group
 * as seen by one tenant scope (a group spans societies, so each scope sees its own part of it).
 */
interface Topic {
  readonly key: string;
  readonly target: SubscriptionTarget;
  readonly scope: SocietyAccess;
  meters: ReadonlySet<string>;
  readonly subscribers: Set<LiveSubscriber>;
}

export type SubscribeResult = { ok: true; meters: string[] } | { ok: false; notFound: string };

export interface LiveHubOptions {
  repository: LiveRepository;
  /** A connection of the API's; the hub duplicates it for its one subscriber-mode connection. */
  redis: Redis;
  /** The cache's key names: the live channels are its per-group readings and events channels. */
  keys: CacheKeys;
  metrics: LiveMetrics;
  membershipRefreshMs: number;
}

/**
 * Routes the decryptor's live notifications to connections. One Redis connection per API instance
 * pattern-subscribes to every group's readings and events channels (so each instance sees everything and any
 * number of instances fan out independently); messages are routed in memory by meter id through an index
 * meter → topics → connections. Topics hold their meter sets, read from the database when first subscribed and
 * re-read every `membershipRefreshMs`, so meters that move between societies or groups are followed, and a
 * meter subscription whose meter left the subscriber's tenant is ended. Nothing is parsed while nobody listens.
 * A reading or event older than its meter's history floor (a late telegram of the meter's previous owner) is
 * not delivered; the floors come with the same placement reads.
 */
export class LiveHub {
  private readonly logger = new Logger('LiveHub');
  private readonly topics = new Map<string, Topic>();
  private readonly meterIndex = new Map<string, Set<Topic>>();
  /** History floors (epoch ms) of the indexed meters that have one. */
  private readonly historyFloors = new Map<string, number>();
  private readonly subscriber: Redis;
  private readonly readingsChannelPrefix: string;
  private readonly eventsChannelPrefix: string;
  private refreshTimer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private everListened = false;
  private feedDown = false;
  private readonly firstListen: Promise<void>;
  private markListening: () => void = () => undefined;

  constructor(private readonly options: LiveHubOptions) {
    this.subscriber = options.redis.duplicate({
      lazyConnect: true,
      maxRetriesPerRequest: null,
      // Re-subscribed by listen() instead, which knows when the subscription is back and tells the subscribers.
      autoResubscribe: false,
      // Named after the key prefix, so an operator can tell which deployment a subscriber belongs to.
      connectionName: `hes-live-${options.keys.prefix}`,
    });
    this.readingsChannelPrefix = options.keys.readingsByGroup('');
    this.eventsChannelPrefix = options.keys.eventsByGroup('');
    // ioredis reports every failed reconnect; one line per outage (listen() reports when the feed is back).
    this.subscriber.on('error', (error: Error) => {
      if (this.feedDown) return;
      this.feedDown = true;
      this.logger.warn(`live subscriber connection error: ${error.message}`);
    });
    this.firstListen = new Promise((resolve) => (this.markListening = resolve));
    // Every (re)connection subscribes afresh; ioredis keeps reconnecting by itself after an outage.
    this.subscriber.on('ready', () => void this.listen());
    this.subscriber.on('pmessage', (_pattern: string, channel: string, payload: string) =>
      this.route(channel, payload),
    );
  }

  /**
   * Subscribes to the live channels when Redis is reachable, so what is published once the API is up gets through.
   * Redis down at start must not keep the API from starting (REST serves from the database meanwhile): the
   * subscriber keeps reconnecting in the background and subscribes on its first 'ready'.
   */
  async start(): Promise<void> {
    this.refreshTimer = setInterval(() => void this.refresh(), this.options.membershipRefreshMs);
    this.refreshTimer.unref();
    const connected = await this.subscriber.connect().then(
      () => true,
      () => false,
    );
    if (!connected) {
      this.logger.warn(
        'live feed: Redis unreachable at start, subscribing in the background once it is back',
      );
      return;
    }
    // A connection that drops before the subscription is confirmed subscribes on its next 'ready' instead.
    let dropped: () => void = () => undefined;
    await Promise.race([
      this.firstListen,
      new Promise<void>((resolve) => this.subscriber.once('close', (dropped = resolve))),
    ]);
    this.subscriber.off('close', dropped);
  }

  async stop(): Promise<void> {
    clearInterval(this.refreshTimer);
    await this.refreshing;
    this.subscriber.disconnect();
  }

  /**
   * Resolves `target` for the subscriber's tenant and adds it. A meter or society outside the tenant is
   * reported exactly like a missing one; a group exists for everyone but delivers only the tenant's meters.
   */
  async subscribe(subscriber: LiveSubscriber, target: SubscriptionTarget): Promise<SubscribeResult> {
    const principal = subscriber.principal;
    const { repository } = this.options;
    let topicKey: string;
    let scope: SocietyAccess = 'all';
    let meters: string[];
    if (target.kind === 'meter') {
      const [placement] = await repository.placementsOfMeters([target.id]);
      if (!placement || !canAccessSociety(principal, placement.societyId))
        return { ok: false, notFound: 'meter not found' };
      topicKey = target.key;
      this.noteFloors([placement]);
      meters = [placement.meterId];
    } else if (target.kind === 'society') {
      if (!canAccessSociety(principal, target.id) || !(await repository.societyExists(target.id)))
        return { ok: false, notFound: 'society not found' };
      topicKey = target.key;
      meters = this.noteFloors(await repository.placementsInSocieties([target.id])).map((p) => p.meterId);
    } else {
      if (!(await repository.groupExists(target.id))) return { ok: false, notFound: 'meter group not found' };
      scope = principal.societyIds;
      topicKey = `${target.key}@${scope === 'all' ? 'all' : [...scope].sort().join(',')}`;
      meters = this.noteFloors(inScope(await repository.placementsInGroups([target.id]), scope)).map(
        (p) => p.meterId,
      );
    }
    let topic = this.topics.get(topicKey);
    if (!topic) {
      topic = { key: topicKey, target, scope, meters: new Set(), subscribers: new Set() };
      this.topics.set(topicKey, topic);
    }
    this.setMeters(topic, new Set(meters));
    topic.subscribers.add(subscriber);
    return { ok: true, meters };
  }

  /** Removes the subscriber's subscription to `target`; false when it had none. */
  unsubscribe(subscriber: LiveSubscriber, target: SubscriptionTarget): boolean {
    for (const topic of this.topics.values()) {
      if (topic.target.key === target.key && topic.subscribers.has(subscriber)) {
        this.detach(topic, subscriber);
        return true;
      }
    }
    return false;
  }

  /** Drops every subscription of a closed connection. */
  removeSubscriber(subscriber: LiveSubscriber): void {
    for (const topic of [...this.topics.values()])
      if (topic.subscribers.has(subscriber)) this.detach(topic, subscriber);
  }

  /** Re-reads the meters behind every topic now (also runs every `membershipRefreshMs`). */
  refresh(): Promise<void> {
    this.refreshing ??= this.refreshTopics()
      .catch((error: unknown) =>
        this.logger.warn(`live membership refresh failed: ${error instanceof Error ? error.message : error}`),
      )
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  private async refreshTopics(): Promise<void> {
    const byKind = { meter: [] as Topic[], society: [] as Topic[], group: [] as Topic[] };
    for (const topic of this.topics.values()) byKind[topic.target.kind].push(topic);
    const { repository } = this.options;
    if (byKind.meter.length > 0) {
      const placements = new Map(
        this.noteFloors(
          await repository.placementsOfMeters(byKind.meter.map((t) => t.target.id as string)),
        ).map((p) => [p.meterId, p]),
      );
      for (const topic of byKind.meter) {
        const placement = placements.get(topic.target.id as string);
        for (const subscriber of [...topic.subscribers]) {
          if (placement && canAccessSociety(subscriber.principal, placement.societyId)) continue;
          this.detach(topic, subscriber);
          subscriber.subscriptionEnded(topic.target.key, 'meter not found');
        }
      }
    }
    if (byKind.society.length > 0) {
      const placements = this.noteFloors(
        await repository.placementsInSocieties(byKind.society.map((t) => t.target.id as string)),
      );
      for (const topic of byKind.society) {
        if (this.topics.get(topic.key) !== topic) continue;
        this.setMeters(
          topic,
          new Set(placements.filter((p) => p.societyId === topic.target.id).map((p) => p.meterId)),
        );
      }
    }
    if (byKind.group.length > 0) {
      const placements = await repository.placementsInGroups(byKind.group.map((t) => t.target.id as number));
      for (const topic of byKind.group) {
        if (this.topics.get(topic.key) !== topic) continue;
        const inGroup = placements.filter((p) => p.groupId === topic.target.id);
        this.setMeters(topic, new Set(this.noteFloors(inScope(inGroup, topic.scope)).map((p) => p.meterId)));
      }
    }
  }

  /**
   * Subscribes to every group's channels on a fresh connection. After a reconnection, what was published while
   * the connection was down never reached this instance: once the subscription is back, subscribers are told.
   */
  private async listen(): Promise<void> {
    try {
      await this.subscriber.psubscribe(
        `${globEscape(this.readingsChannelPrefix)}*`,
        `${globEscape(this.eventsChannelPrefix)}*`,
      );
    } catch (error) {
      // The connection dropped again; its next 'ready' subscribes again.
      this.logger.warn(`live subscription failed: ${error instanceof Error ? error.message : error}`);
      return;
    }
    this.feedDown = false;
    // Connections that subscribed while the feed was not up yet (Redis down at start) missed what was published.
    if (this.everListened || this.topics.size > 0) this.notifyInterrupted();
    if (!this.everListened) this.markListening();
    this.everListened = true;
  }

  private notifyInterrupted(): void {
    const subscribers = new Set<LiveSubscriber>();
    for (const topic of this.topics.values())
      for (const subscriber of topic.subscribers) subscribers.add(subscriber);
    this.logger.warn(
      `live feed from Redis resumed after an interruption; told ${subscribers.size} connections`,
    );
    for (const subscriber of subscribers) subscriber.liveInterrupted();
  }

  private detach(topic: Topic, subscriber: LiveSubscriber): void {
    topic.subscribers.delete(subscriber);
    if (topic.subscribers.size > 0) return;
    this.setMeters(topic, new Set());
    this.topics.delete(topic.key);
  }

  private setMeters(topic: Topic, meters: ReadonlySet<string>): void {
    for (const meterId of topic.meters) {
      if (meters.has(meterId)) continue;
      const topics = this.meterIndex.get(meterId);
      topics?.delete(topic);
      if (topics?.size === 0) {
        this.meterIndex.delete(meterId);
        this.historyFloors.delete(meterId);
      }
    }
    for (const meterId of meters) {
      let topics = this.meterIndex.get(meterId);
      if (!topics) this.meterIndex.set(meterId, (topics = new Set()));
      topics.add(topic);
    }
    topic.meters = meters;
  }

  /**
   * Remembers the history floors of placements just read for a topic (the latest read wins; a meter's floor is
   * forgotten with its last topic); returns them.
   */
  private noteFloors(placements: MeterPlacement[]): MeterPlacement[] {
    for (const placement of placements) {
      if (placement.historyFromMs === null) this.historyFloors.delete(placement.meterId);
      else this.historyFloors.set(placement.meterId, placement.historyFromMs);
    }
    return placements;
  }

  /** Whether an item of the meter at `tsMs` is before its history floor (not the current owner's). */
  private beforeFloor(meterId: string, tsMs: number): boolean {
    const floorMs = this.historyFloors.get(meterId);
    return floorMs !== undefined && tsMs < floorMs;
  }

  private route(channel: string, payload: string): void {
    if (this.meterIndex.size === 0) return;
    const readings = channel.startsWith(this.readingsChannelPrefix);
    if (!readings && !channel.startsWith(this.eventsChannelPrefix)) return;
    let items: unknown;
    try {
      items = JSON.parse(payload);
    } catch {
      items = undefined;
    }
    if (!Array.isArray(items)) {
      this.options.metrics.liveMessagesMalformed.inc();
      return;
    }
    for (const item of items as unknown[]) {
      if (readings && isCachedReading(item)) {
        const topics = this.meterIndex.get(item.meterId);
        if (topics && !this.beforeFloor(item.meterId, item.ts))
          for (const subscriber of subscribersOf(topics)) subscriber.deliverReading(item);
      } else if (!readings && isCachedEvent(item)) {
        const topics = this.meterIndex.get(item.meterId);
        if (topics && !this.beforeFloor(item.meterId, item.ts))
          for (const subscriber of subscribersOf(topics)) subscriber.deliverEvent(item);
      } else {
        this.options.metrics.liveMessagesMalformed.inc();
      }
    }
  }
}

/** The subscribers of a meter's topics, each once even when several of its subscriptions cover the meter. */
function subscribersOf(topics: Set<Topic>): Iterable<LiveSubscriber> {
  if (topics.size === 1) return topics.values().next().value!.subscribers;
  const all = new Set<LiveSubscriber>();
  for (const topic of topics) for (const subscriber of topic.subscribers) all.add(subscriber);
  return all;
}

function inScope(placements: MeterPlacement[], scope: SocietyAccess): MeterPlacement[] {
  if (scope === 'all') return placements;
  return placements.filter((p) => p.societyId !== null && scope.includes(p.societyId));
}

function isCachedReading(item: unknown): item is CachedReading {
  const r = item as Partial<CachedReading> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.meterId === 'string' &&
    typeof r.quantity === 'string' &&
    typeof r.unit === 'string' &&
    typeof r.value === 'number' &&
    typeof r.ts === 'number'
  );
}

function isCachedEvent(item: unknown): item is CachedEvent {
  const e = item as Partial<CachedEvent> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.meterId === 'string' &&
    typeof e.kind === 'string' &&
    typeof e.ts === 'number'
  );
}

/** Redis glob patterns treat these specially; a key prefix containing them must match literally. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
