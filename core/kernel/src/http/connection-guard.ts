import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '@registry-core/api';

export interface ConnectionLimits {
  /** Most open connections from one client address; 0: no limit. */
  readonly maxConnectionsPerClient: number;
  /** Bytes per second a request body must arrive at; 0: off. */
  readonly minBodyRate: number;
  readonly minBodyRateWindowSeconds: number;
}

/**
 * What one client may hold of the server: a number of connections per address, and
 * request bodies that keep arriving. Without them one client (or a few, trickling bodies)
 * holds sockets, file descriptors and spill files for as long as the request timeout.
 */
export class ConnectionGuard {
  private readonly perClient = new Map<string, number>();
  /** Sockets over their client's share: their requests are answered 503 and they are closed. */
  private readonly refused = new WeakSet<Socket>();

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly logger: Logger,
  ) {}

  /** Count a new connection (for every server's `connection` event). */
  track(socket: Socket): void {
    const max = this.limits.maxConnectionsPerClient;
    if (max <= 0) return;
    const address = socket.remoteAddress ?? '';
    const open = this.perClient.get(address) ?? 0;
    if (open >= max) {
      // Not counted: it never serves a request, and it is closed after its first answer
      // (or soon, when it sends nothing).
      this.refused.add(socket);
      socket.setTimeout(10_000, () => socket.destroy());
      return;
    }
    this.perClient.set(address, open + 1);
    socket.once('close', () => {
      const left = (this.perClient.get(address) ?? 1) - 1;
      if (left <= 0) this.perClient.delete(address);
      else this.perClient.set(address, left);
    });
  }

  /** Whether `socket` is a connection over its client's share (its requests are refused). */
  isRefused(socket: Socket): boolean {
    return this.refused.has(socket);
  }

  /** Answer 503 and close when the request came on a connection over its client's share. */
  refuse(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.refused.has(req.socket)) return false;
    this.logger.debug('connection over the per-client limit refused', { clientAddress: req.socket.remoteAddress, limit: this.limits.maxConnectionsPerClient });
    answerAndClose(res, 503, `too many connections from this address (at most ${this.limits.maxConnectionsPerClient})`, { 'Retry-After': '5' });
    return true;
  }

  /**
   * Watch a request's body arrive: when less than `minBodyRate` bytes per second came in a
   * window while the server was waiting for them, answer 408 and close the connection.
   * Time the server itself is not reading (its buffer holds unread bytes: a slow disk, a
   * handler still checking credentials) does not count against the client.
   */
  watchBody(req: IncomingMessage, res: ServerResponse): void {
    const rate = this.limits.minBodyRate;
    if (rate <= 0 || !hasBody(req)) return;
    const socket = req.socket;
    const windowMs = this.limits.minBodyRateWindowSeconds * 1000;
    let seen = socket.bytesRead;
    const timer = setInterval(() => {
      if (req.complete || socket.destroyed) return stop();
      const now = socket.bytesRead;
      const moved = now - seen;
      seen = now;
      if (req.readableLength > 0 || moved >= rate * this.limits.minBodyRateWindowSeconds) return;
      stop();
      this.logger.info('request body too slow: answered 408', { clientAddress: socket.remoteAddress, method: req.method, bytesInWindow: moved, minBodyRate: rate });
      answerAndClose(res, 408, `the request body arrived slower than ${rate} bytes per second`);
    }, windowMs);
    timer.unref();
    const stop = () => clearInterval(timer);
    req.once('end', stop);
    res.once('close', stop);
  }
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** A small JSON error answer, then the connection closed (the rest of the body is never read). */
function answerAndClose(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  const socket = res.socket ?? res.req.socket;
  if (!res.headersSent) {
    const body = JSON.stringify({ error: message });
    res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
    res.end(body);
  }
  // Whatever the handler still does with this request, the connection ends here.
  res.once('finish', () => socket?.destroySoon());
  if (res.writableFinished || !socket) socket?.destroySoon();
  setTimeout(() => socket?.destroy(), 5_000).unref();
}
