import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import {
  AccessTokens,
  AuditLog,
  AuthGuard,
  Authenticator,
  ApiKeyRepository,
  PrincipalThrottlerGuard,
  RedisThrottlerStorage,
  SessionService,
  rateLimitThrottlers,
  type OidcVerifier,
  type RateLimits,
} from '@hes/auth';
import type { ReadingCache } from '@hes/cache';
import type { TrustProxy, WebSocketConfig } from '@hes/config';
import type { MeterKeyCipher } from '@hes/keys';
import { HES_METRICS, type HealthChecks, type HesMetrics } from '@hes/metrics';
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import { ApiKeyAdminRepository } from './api-keys/api-key-admin.repository';
import { ApiKeysController } from './api-keys/api-keys.controller';
import { AuthController } from './auth/auth.controller';
import type { MeterCommandSink } from './commands/command-publisher';
import { CommandsController } from './commands/commands.controller';
import { CommandsRepository } from './commands/commands.repository';
import { EventsController } from './events/events.controller';
import { EventsRepository } from './events/events.repository';
import { DecryptController } from './decrypt/decrypt.controller';
import { TelegramDecrypter } from './decrypt/telegram-decrypter';
import { OperationsController } from './http/health.controller';
import { MeterGroupsController } from './meters/meter-groups.controller';
import { MeterGroupsRepository } from './meters/meter-groups.repository';
import { MeterImportController } from './meters/meter-import.controller';
import { MeterImporter } from './meters/meter-importer';
import { MetersController } from './meters/meters.controller';
import { MetersRepository } from './meters/meters.repository';
import { UnknownMetersController } from './meters/unknown-meters.controller';
import { UnknownMeters } from './meters/unknown-meters';
import { KeyImportController } from './keys/key-import.controller';
import { MeterKeysController } from './keys/meter-keys.controller';
import { MeterKeyVault } from './keys/meter-key-vault';
import { createLiveContext } from './live/live-context';
import { LIVE_CONTEXT, LiveGateway } from './live/live.gateway';
import { ConsumptionCalculator } from './readings/consumption';
import { LatestReadings } from './readings/latest-readings';
import { MeterTenancyCache } from './readings/meter-tenancy-cache';
import { ReadingsController } from './readings/readings.controller';
import { ReadingsRepository } from './readings/readings.repository';
import { SeriesHealthRepository } from './readings/series-health.repository';
import { FlatsController } from './structure/flats.controller';
import { MeterPlacementController } from './structure/meter-placement.controller';
import { SocietiesController } from './structure/societies.controller';
import { StructureRepository } from './structure/structure.repository';
import { TowersController } from './structure/towers.controller';
import { COMMANDS, HEALTH_CHECKS, PG_POOL, REDIS } from './tokens';
import { SocietyMembersController, UsersController } from './users/users.controller';
import { UserAdminRepository } from './users/user-admin.repository';
import {
  InvitationAcceptController,
  InvitationSettings,
  SocietyInvitationsController,
} from './users/invitations.controller';
import { InvitationsRepository } from './users/invitations.repository';

/** Everything the API talks to, built by runtime.ts (or a test) and handed in ready to use. */
export interface ApiDependencies {
  pool: Pool;
  redis: Redis;
  /** The decryptor's reading cache (latest values per meter), read-only here. */
  readingCache: ReadingCache;
  metrics: HesMetrics;
  logLevel: string;
  accessTokens: AccessTokens;
  refreshTokenTtlSeconds: number;
  /** How long a society invitation's token stays valid. */
  invitationTtlSeconds: number;
  oidc?: OidcVerifier;
  rateLimits: RateLimits;
  /** Prefix of the rate limiter's Redis keys (tests use their own). */
  rateLimitKeyPrefix: string;
  /** Proxies whose X-Forwarded-For gives the client address (audit log, rate limits); absent: none. */
  trustProxy?: TrustProxy;
  healthChecks: HealthChecks;
  /** Limits of the live WebSocket gateway (/api/v1/ws); its channels are readingCache's. */
  websocket: WebSocketConfig;
  /** Where meter commands are produced (the commands topic); resolves once the broker acknowledged. */
  commands: MeterCommandSink;
  /** Encrypts meter keys at rest (from HES_MASTER_KEY); without it the key endpoints answer 503. */
  meterKeyCipher?: MeterKeyCipher;
}

@Module({})
export class ApiModule {
  static register(deps: ApiDependencies): DynamicModule {
    const audit = new AuditLog(deps.pool);
    const meterTenancy = new MeterTenancyCache(deps.pool);
    const readings = new ReadingsRepository(deps.pool, meterTenancy);
    const meterKeys = new MeterKeyVault(deps.pool, deps.meterKeyCipher);
    return {
      module: ApiModule,
      imports: [
        ThrottlerModule.forRoot({
          throttlers: rateLimitThrottlers(deps.rateLimits),
          storage: new RedisThrottlerStorage(deps.redis, deps.rateLimitKeyPrefix, {
            fallback: () => deps.metrics.rateLimitFallbacks.inc(),
          }),
        }),
      ],
      controllers: [
        OperationsController,
        AuthController,
        UsersController,
        SocietyMembersController,
        SocietyInvitationsController,
        InvitationAcceptController,
        SocietiesController,
        TowersController,
        FlatsController,
        MeterPlacementController,
        MeterImportController,
        MetersController,
        MeterGroupsController,
        UnknownMetersController,
        ApiKeysController,
        ReadingsController,
        MeterKeysController,
        KeyImportController,
        DecryptController,
        EventsController,
        CommandsController,
      ],
      providers: [
        { provide: PG_POOL, useValue: deps.pool },
        { provide: REDIS, useValue: deps.redis },
        { provide: HES_METRICS, useValue: deps.metrics },
        { provide: HEALTH_CHECKS, useValue: deps.healthChecks },
        { provide: AuditLog, useValue: audit },
        {
          provide: Authenticator,
          useValue: new Authenticator(deps.accessTokens, new ApiKeyRepository(deps.pool), deps.oidc),
        },
        {
          provide: SessionService,
          useValue: new SessionService(deps.pool, deps.accessTokens, audit, deps.refreshTokenTtlSeconds),
        },
        { provide: StructureRepository, useValue: new StructureRepository(deps.pool) },
        { provide: MetersRepository, useValue: new MetersRepository(deps.pool) },
        { provide: MeterGroupsRepository, useValue: new MeterGroupsRepository(deps.pool) },
        { provide: MeterImporter, useValue: new MeterImporter(deps.pool) },
        { provide: UnknownMeters, useValue: new UnknownMeters(deps.pool, deps.meterKeyCipher) },
        { provide: UserAdminRepository, useValue: new UserAdminRepository(deps.pool) },
        { provide: InvitationsRepository, useValue: new InvitationsRepository(deps.pool) },
        { provide: InvitationSettings, useValue: new InvitationSettings(deps.invitationTtlSeconds) },
        { provide: ApiKeyAdminRepository, useValue: new ApiKeyAdminRepository(deps.pool) },
        { provide: EventsRepository, useValue: new EventsRepository(deps.pool) },
        { provide: CommandsRepository, useValue: new CommandsRepository(deps.pool) },
        { provide: COMMANDS, useValue: deps.commands },
        { provide: MeterKeyVault, useValue: meterKeys },
        { provide: TelegramDecrypter, useValue: new TelegramDecrypter(deps.pool, meterKeys) },
        { provide: LatestReadings, useValue: new LatestReadings(deps.pool, deps.readingCache) },
        // Listens for meter tenancy changes from module init to destroy (Nest calls its lifecycle hooks).
        { provide: MeterTenancyCache, useValue: meterTenancy },
        { provide: ReadingsRepository, useValue: readings },
        {
          provide: ConsumptionCalculator,
          useValue: new ConsumptionCalculator(readings, new SeriesHealthRepository(deps.pool)),
        },
        {
          provide: LIVE_CONTEXT,
          inject: [Authenticator],
          useFactory: (authenticator: Authenticator) =>
            createLiveContext(
              { ...deps, keys: deps.readingCache.keys, settings: deps.websocket },
              authenticator,
            ),
        },
        LiveGateway,
        // Order matters: authentication first, so the rate limiter can key on the principal.
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_GUARD, useClass: PrincipalThrottlerGuard },
      ],
    };
  }
}
