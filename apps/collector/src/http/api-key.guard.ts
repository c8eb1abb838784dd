import {
  CanActivate,
  ExecutionContext,
  Inject,
  Injectable,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { ApiKeyVerifier, apiKeyFromHeaders } from './api-key-verifier';

/** Set by the guard: the registered device (gateway, or handheld reader app) the API key belongs to. */
export interface AuthenticatedRequest extends IncomingMessage {
  deviceId: string;
}

/**
 * Runs before the body is read (the app has no global body parser), so an unauthenticated client's
 * upload is refused without being buffered.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(@Inject(ApiKeyVerifier) private readonly verifier: ApiKeyVerifier) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const apiKey = apiKeyFromHeaders(request.headers);
    if (!apiKey)
      throw new UnauthorizedException('API key required: Authorization: Bearer <key> or X-API-Key');
    let gatewayId: string | undefined;
    try {
      gatewayId = await this.verifier.verify(apiKey);
    } catch (error) {
      throw new ServiceUnavailableException('gateway credential store unavailable', { cause: error });
    }
    if (!gatewayId) throw new UnauthorizedException('unknown or revoked API key');
    request.deviceId = gatewayId;
    return true;
  }
}
