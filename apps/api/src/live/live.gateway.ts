import { Inject, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { WebSocketGateway, type OnGatewayConnection, type OnGatewayDisconnect } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { LiveConnection, type LiveConnectionContext } from './live-connection';
import { CLOSE_CODES, LIVE_PATH } from './live-protocol';

/** Injection token of the LiveConnectionContext (hub, repository, authenticator, metrics, settings). */
export const LIVE_CONTEXT = Symbol('LIVE_CONTEXT');

/** Incoming frames above this are refused by `ws` (close 1009): client messages are small JSON objects. */
const MAX_CLIENT_FRAME_BYTES = 16 * 1024;

/**
 * The live gateway on the API's own HTTP server at `/api/v1/ws` (plain WebSocket through @nestjs/platform-ws).
 * Authentication and the message protocol are LiveConnection's; the gateway owns the hub's lifetime and the
 * mapping from sockets to connections.
 */
@WebSocketGateway({ path: LIVE_PATH, maxPayload: MAX_CLIENT_FRAME_BYTES })
export class LiveGateway implements OnGatewayConnection, OnGatewayDisconnect, OnModuleInit, OnModuleDestroy {
  private readonly connections = new Map<WebSocket, LiveConnection>();
  private recheckTimer: NodeJS.Timeout | undefined;

  constructor(@Inject(LIVE_CONTEXT) private readonly context: LiveConnectionContext) {}

  async onModuleInit(): Promise<void> {
    await this.context.hub.start();
    this.recheckTimer = setInterval(
      () => this.recheckCredentials(),
      this.context.settings.membershipRefreshMs,
    );
    this.recheckTimer.unref();
  }

  /** Re-validates the API keys of open connections (also every `membershipRefreshMs`): revoked keys are closed. */
  recheckCredentials(): void {
    for (const connection of this.connections.values()) connection.recheckCredential();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.recheckTimer);
    for (const connection of this.connections.values())
      connection.close(CLOSE_CODES.goingAway, 'server shutting down: reconnect with since', 'shutdown');
    await this.context.hub.stop();
  }

  handleConnection(socket: WebSocket, request: IncomingMessage): void {
    this.context.metrics.connections.inc();
    this.connections.set(socket, new LiveConnection(socket, request.headers, this.context));
  }

  handleDisconnect(socket: WebSocket): void {
    const connection = this.connections.get(socket);
    if (!connection) return;
    this.connections.delete(socket);
    this.context.metrics.connections.dec();
    connection.disconnected();
  }
}
