import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  Logger,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import type { AuditEntry } from '@hes/auth';
import type { IncomingMessage } from 'node:http';
import { COLLECTOR_AUDIT } from '../tokens';
import { ApiKeyVerifier, apiKeyFromHeaders, type DeviceCredential } from './api-key-verifier';

/** Set by the guard: the device (gateway, handheld reader app, or society ingest key) that sent the request. */
export interface AuthenticatedRequest extends IncomingMessage {
  /** The gateway id, or `api_key:<id>` for a society API key: the envelopes' source id. */
  deviceId: string;
  /** The society of a society API key, whose meters alone it may feed; undefined for gateways. */
  societyId?: string;
  /** The client address (X-Forwarded-For only behind a trusted proxy, see COLLECTOR_TRUST_PROXY). */
  ip?: string;
}

/** Where refused credentials are recorded (the audit log). */
export interface CollectorAuditLog {
  write(entry: AuditEntry): Promise<void>;
}

/**
 * Runs before the body is read (the app has no global body parser), so an unauthenticated client's upload is
 * refused without being buffered. Gateways' keys and society API keys with the ingest scope are accepted; a
 * society key with the read scope (a billing system's) is refused with 403. Refusals are audit-logged with the
 * client address, once per key per verdict-cache period, so a client retrying a bad key does not flood the log.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly logger = new Logger('ApiKeyGuard');

  constructor(
    @Inject(ApiKeyVerifier) private readonly verifier: ApiKeyVerifier,
    @Inject(COLLECTOR_AUDIT) private readonly audit: CollectorAuditLog,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const apiKey = apiKeyFromHeaders(request.headers);
    if (!apiKey)
      throw new UnauthorizedException('API key required: Authorization: Bearer <key> or X-API-Key');
    let verdict;
    try {
      verdict = await this.verifier.verify(apiKey);
    } catch (error) {
      throw new ServiceUnavailableException('gateway credential store unavailable', { cause: error });
    }
    const { credential, fresh } = verdict;
    if (!credential) {
      if (fresh) await this.recordRefusal(request, undefined);
      throw new UnauthorizedException('unknown or revoked API key');
    }
    if (credential.kind === 'society_api_key' && credential.scope !== 'ingest') {
      if (fresh) await this.recordRefusal(request, credential);
      throw new ForbiddenException(
        `this API key has the ${credential.scope} scope; ingest needs the ingest scope`,
      );
    }
    request.deviceId = deviceIdOf(credential);
    if (credential.kind === 'society_api_key') request.societyId = credential.societyId;
    return true;
  }

  /** A refused key: unknown or revoked (no credential), or a society key without the ingest scope. */
  private async recordRefusal(
    request: AuthenticatedRequest,
    credential: Extract<DeviceCredential, { kind: 'society_api_key' }> | undefined,
  ): Promise<void> {
    try {
      await this.audit.write({
        actor: credential ? deviceIdOf(credential) : 'anonymous',
        action: 'ingest.key_refused',
        target: `${request.method ?? 'POST'} ${request.url ?? ''}`,
        societyId: credential?.societyId ?? null,
        details: credential ? { reason: 'scope', scope: credential.scope } : { reason: 'unknown_or_revoked' },
        ip: request.ip,
      });
    } catch (error) {
      // The refusal stands either way; only its record is lost.
      this.logger.warn({ err: error }, 'could not audit-log a refused API key');
    }
  }
}

function deviceIdOf(credential: DeviceCredential): string {
  return credential.kind === 'gateway' ? credential.id : `api_key:${credential.id}`;
}
