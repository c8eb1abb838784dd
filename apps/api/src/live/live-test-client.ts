/** A real `ws` client for the live gateway's tests and benchmark: collects every message and waits for ones. */
import WebSocket from 'ws';
import type { ServerMessage } from './live-protocol';

export interface Closed {
  code: number;
  reason: string;
}

export class LiveTestClient {
  readonly messages: ServerMessage[] = [];
  readonly closed: Promise<Closed>;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: WebSocket.RawData) => {
      this.messages.push(JSON.parse(data.toString()) as ServerMessage);
      for (const wake of [...this.waiters]) wake();
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', (code: number, reason: Buffer) => {
        resolve({ code, reason: reason.toString() });
        for (const wake of [...this.waiters]) wake();
      }),
    );
  }

  static connect(url: string, headers: Record<string, string> = {}): Promise<LiveTestClient> {
    const socket = new WebSocket(url, { headers });
    const client = new LiveTestClient(socket);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(client));
      socket.once('error', reject);
    });
  }

  send(message: object): void {
    this.socket.send(JSON.stringify(message));
  }

  /** The first message (from the start of the connection) that matches, waiting up to `timeoutMs` for it. */
  next<T extends ServerMessage['type']>(
    type: T,
    matches: (message: Extract<ServerMessage, { type: T }>) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<Extract<ServerMessage, { type: T }>> {
    const find = () =>
      this.messages.find(
        (m): m is Extract<ServerMessage, { type: T }> =>
          m.type === type && matches(m as Extract<ServerMessage, { type: T }>),
      );
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = find();
        if (!found) return false;
        finish();
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(`no '${type}' message within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`),
        );
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
      };
      const wake = () => {
        if (check() || this.socket.readyState !== WebSocket.CLOSED) return;
        finish();
        reject(new Error(`closed before a '${type}' message; got ${JSON.stringify(this.messages)}`));
      };
      if (!check()) this.waiters.add(wake);
    });
  }

  close(): void {
    this.socket.close();
  }
}
