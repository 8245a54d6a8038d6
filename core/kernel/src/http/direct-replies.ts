import type { Socket } from 'node:net';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { HotAnswer, HotAnswers, HotRequest, Replay } from './hot-answers.js';

/** What the direct front needs of the server it stands in front of. */
export interface DirectRepliesOptions {
  readonly hot: HotAnswers;
  /** Called after each replay written (the access log, the metrics), with when it began (`performance.now()`). */
  readonly replayed: (req: HotRequest, replay: Replay, started: number) => void;
  /** Whether this socket's requests must go to Node's HTTP server (draining, a connection over its client's share). */
  readonly fullPath: (socket: Socket) => boolean;
  /** Headers every answer of this process carries (the worker's slot). */
  readonly extraHeaders?: Readonly<Record<string, string>>;
  /** Told of an exception thrown while replaying (the connection is destroyed). */
  readonly failed?: (error: unknown) => void;
  /** Milliseconds an idle connection is kept (Node's `keepAliveTimeout`). */
  readonly keepAliveTimeoutMs: number;
}

/** Requests answered from one read before the rest goes to Node (a client pipelining many). */
const MOST_PER_READ = 64;
/** Header lines of one request; more go to Node. */
const MOST_HEADERS = 64;
/** A request's header block is at most this long (Node's default limit is 16 KiB). */
const MOST_HEAD_BYTES = 8 * 1024;
/** Token characters (RFC 9110) of a header name. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A header value of visible ASCII, spaces and tabs only (obs-text and controls go to Node). */
const VALUE = /^[\t\x20-\x7e]*$/;
/** An origin-form request target of visible ASCII. */
const TARGET = /^\/[\x21-\x7e]*$/;
/** Headers whose presence means anything but a plain GET: a body, an upgrade, a loop mark. */
const NOT_PLAIN = new Set(['content-length', 'transfer-encoding', 'expect', 'upgrade', 'via', 'http2-settings']);

/** The status lines and static headers of one answer, serialized once. */
interface Heads {
  readonly length: number;
  readonly ok: Buffer;
  readonly notModified: Buffer;
}

/**
 * Replays hot answers straight to the socket, without Node's HTTP machinery, for the
 * connections that have asked only for them so far. It sees each connection first: while
 * every request is a plain `GET`/`HEAD` in HTTP/1.1 whose header block came whole in one
 * read and {@link HotAnswers.answer} has a replay for it, the replay's bytes (kept status
 * line and headers, then the body's buffers as they are kept) are written with one gathered
 * write. Anything else (a miss, a partial or unusual request, a body, `Connection: close`,
 * HTTP/1.0, a duplicate header, a byte outside printable ASCII, draining) hands the
 * connection to Node's HTTP server for the rest of its life, starting with the bytes of that
 * request, so Node's parser (llhttp) and every limit and timeout of the full path apply to
 * everything this front does not answer itself. The requests it answers are exactly the ones
 * the hot path in front of koa would have answered, with the same headers (Node's `Date`,
 * `Connection` and `Keep-Alive` included).
 *
 * Why: Node's `http` costs about as much per request as the whole replay; on the bench's
 * 2-core machine a bare `http.createServer` answering a fixed 27 KB buffer runs at about
 * 0.55-0.7x nginx's rate, the same answer written to the socket at about 0.9x.
 */
export class DirectReplies {
  private readonly open = new Set<Socket>();
  private readonly heads = new WeakMap<HotAnswer, Heads>();
  private readonly extra: string;
  private readonly keepAlive: string;
  private dateSecond = -1;
  private date = '';

  constructor(private readonly options: DirectRepliesOptions) {
    this.extra = Object.entries(options.extraHeaders ?? {})
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    this.keepAlive = `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(options.keepAliveTimeoutMs / 1000)}\r\n\r\n`;
  }

  /** Connections this front still answers itself. */
  get connections(): number {
    return this.open.size;
  }

  /**
   * Take a new connection: answer what it can, and call `handOver` (once, with the bytes not
   * answered) to give the connection to Node's HTTP server.
   */
  accept(socket: Socket, handOver: (socket: Socket, unread: Buffer | undefined) => void): void {
    if (this.options.fullPath(socket)) {
      handOver(socket, undefined);
      return;
    }
    this.open.add(socket);
    const onTimeout = (): void => {
      socket.destroy();
    };
    const onError = (): void => {
      socket.destroy();
    };
    const onEnd = (): void => {
      // A half-close after the last request: its answers are written, so end ours too.
      socket.end();
    };
    const onClose = (): void => {
      this.open.delete(socket);
    };
    const give = (unread: Buffer | undefined): void => {
      socket.removeListener('data', onData);
      socket.removeListener('timeout', onTimeout);
      socket.removeListener('error', onError);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onClose);
      socket.setTimeout(0);
      this.open.delete(socket);
      handOver(socket, unread && unread.length > 0 ? unread : undefined);
    };
    const onData = (chunk: Buffer): void => {
      if (this.options.fullPath(socket)) return give(chunk);
      const text = chunk.toString('latin1');
      let offset = 0;
      let answered = 0;
      let unread: Buffer | undefined;
      socket.cork();
      try {
        while (offset < text.length) {
          const end = text.indexOf('\r\n\r\n', offset);
          const req = end < 0 || end - offset > MOST_HEAD_BYTES || answered >= MOST_PER_READ ? undefined : parseRequest(text, offset, end);
          const started = performance.now();
          const replay = req && this.options.hot.answer(req);
          if (!replay) {
            unread = chunk.subarray(offset);
            break;
          }
          this.write(socket, replay);
          this.options.replayed(req, replay, started);
          offset = end + 4;
          answered++;
        }
      } catch (error) {
        // A defect of this process's (never the client's bytes, which only ever hand over):
        // the connection cannot be trusted to be in step, so it ends here.
        socket.uncork();
        socket.destroy();
        this.options.failed?.(error);
        return;
      }
      // The answers so far leave first (in one gathered write), then Node gets the rest.
      socket.uncork();
      if (unread) return give(unread);
      // A client that does not read what it asked for: stop reading until it does.
      if (socket.writableNeedDrain) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    };
    socket.setTimeout(this.options.keepAliveTimeoutMs, onTimeout);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('end', onEnd);
    socket.on('close', onClose);
  }

  /**
   * Stand in front of `server` (not yet listening, or before its next connection): take
   * Node's own `connection` listener out of the server's listeners, see each new connection
   * first, and call that listener for the hand-over (with the unread bytes put back in the
   * socket for Node's parser). Listeners added before this (connection tracking, limits)
   * still run first. False when `server` has no such listener (an HTTP server built
   * otherwise): nothing changed, Node serves everything.
   */
  stepInFront(server: Server): boolean {
    const nodeListener = server.listeners('connection').find((listener) => listener.name === 'connectionListener') as ((socket: Socket) => void) | undefined;
    if (!nodeListener) return false;
    server.removeListener('connection', nodeListener);
    server.on('connection', (socket: Socket) =>
      this.accept(socket, (given, unread) => {
        nodeListener.call(server, given);
        if (unread) given.unshift(unread);
      }),
    );
    return true;
  }

  /** End the connections this front answers (between requests: nothing is cut off). */
  closeIdle(): void {
    for (const socket of this.open) socket.end();
  }

  /** Destroy the connections this front answers. */
  closeAll(): void {
    for (const socket of this.open) socket.destroy();
    this.open.clear();
  }

  private write(socket: Socket, replay: Replay): void {
    let heads = this.heads.get(replay.answer);
    if (!heads || heads.length !== replay.length) {
      heads = this.headsOf(replay.answer, replay.length);
      this.heads.set(replay.answer, heads);
    }
    socket.write(replay.status === 304 ? heads.notModified : heads.ok);
    socket.write(`X-Request-Id: ${replay.requestId}\r\nDate: ${this.httpDate()}\r\n${this.keepAlive}`, 'latin1');
    const body = replay.body;
    if (!body) return;
    if (Buffer.isBuffer(body)) socket.write(body);
    else for (const chunk of body) socket.write(chunk);
  }

  private headsOf(answer: HotAnswer, length: number): Heads {
    let fields = '';
    for (const [name, value] of Object.entries(answer.headers)) fields += `${name}: ${value}\r\n`;
    fields += this.extra;
    return {
      length,
      ok: Buffer.from(`HTTP/1.1 200 OK\r\n${fields}Content-Length: ${length}\r\n`, 'latin1'),
      notModified: Buffer.from(`HTTP/1.1 304 Not Modified\r\n${fields}`, 'latin1'),
    };
  }

  /** The `Date` header's value, made again once a second. */
  private httpDate(): string {
    const now = Date.now();
    const second = Math.floor(now / 1000);
    if (second !== this.dateSecond) {
      this.dateSecond = second;
      this.date = new Date(second * 1000).toUTCString();
    }
    return this.date;
  }
}

/**
 * The request whose header block is `text[start, end)` (without its final blank line) if it
 * is a plain HTTP/1.1 `GET` or `HEAD` of an origin-form target with well-formed, unrepeated
 * headers, a `Host` and no body; `undefined` for anything else (which Node then parses).
 */
export function parseRequest(text: string, start: number, end: number): HotRequest | undefined {
  const lineEnd = text.indexOf('\r\n', start);
  const requestLine = text.slice(start, lineEnd < 0 || lineEnd > end ? end : lineEnd);
  const space = requestLine.indexOf(' ');
  const method = requestLine.slice(0, space);
  if (method !== 'GET' && method !== 'HEAD') return undefined;
  const second = requestLine.indexOf(' ', space + 1);
  if (second < 0 || requestLine.slice(second + 1) !== 'HTTP/1.1') return undefined;
  const url = requestLine.slice(space + 1, second);
  if (!TARGET.test(url)) return undefined;
  const headers: IncomingHttpHeaders = {};
  let count = 0;
  let at = lineEnd < 0 || lineEnd > end ? end : lineEnd + 2;
  while (at < end) {
    let next = text.indexOf('\r\n', at);
    if (next < 0 || next > end) next = end;
    const line = text.slice(at, next);
    at = next + 2;
    const colon = line.indexOf(':');
    if (colon <= 0 || ++count > MOST_HEADERS) return undefined;
    const rawName = line.slice(0, colon);
    if (!TOKEN.test(rawName)) return undefined;
    const name = rawName.toLowerCase();
    const rawValue = line.slice(colon + 1);
    if (!VALUE.test(rawValue) || headers[name] !== undefined || NOT_PLAIN.has(name)) return undefined;
    const value = trimWhitespace(rawValue);
    if (name === 'connection' && value.toLowerCase() !== 'keep-alive') return undefined;
    headers[name] = value;
  }
  if (headers.host === undefined) return undefined;
  return { method, url, headers };
}

/** Strip spaces and tabs (a header's optional whitespace; `trim()` strips more than that). */
function trimWhitespace(value: string): string {
  let from = 0;
  let to = value.length;
  while (from < to && (value.charCodeAt(from) === 32 || value.charCodeAt(from) === 9)) from++;
  while (to > from && (value.charCodeAt(to - 1) === 32 || value.charCodeAt(to - 1) === 9)) to--;
  return value.slice(from, to);
}
