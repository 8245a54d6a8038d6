import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectReplies, parseRequest } from './direct-replies.js';
import { HotAnswers } from './hot-answers.js';

/** One answer read off a raw connection. */
interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * A raw HTTP/1.1 connection: write bytes as they are (pipelined, split, malformed), read
 * answers one by one (`HEAD` answers have no body, whatever their Content-Length says).
 */
class Raw {
  private buffered = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  ended = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.waiting?.();
    });
    socket.on('end', () => {
      this.ended = true;
      this.waiting?.();
    });
    socket.on('error', () => undefined);
  }

  static open(port: number): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new Raw(socket)));
      socket.once('error', reject);
    });
  }

  send(text: string): void {
    this.socket.write(Buffer.from(text, 'latin1'));
  }

  private async more(): Promise<void> {
    if (this.ended) throw new Error(`connection ended; unread: ${JSON.stringify(this.buffered.toString('latin1'))}`);
    await new Promise<void>((resolve) => (this.waiting = resolve));
    this.waiting = undefined;
  }

  async answer(head = false): Promise<Answer> {
    let end: number;
    while ((end = this.buffered.indexOf('\r\n\r\n')) < 0) await this.more();
    const [statusLine, ...lines] = this.buffered.subarray(0, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const status = Number(statusLine!.split(' ')[1]);
    const length = head || status === 304 ? 0 : Number(headers['content-length'] ?? 0);
    while (this.buffered.length < end + 4 + length) await this.more();
    const body = this.buffered.subarray(end + 4, end + 4 + length).toString('latin1');
    this.buffered = this.buffered.subarray(end + 4 + length);
    return { status, headers, body };
  }

  /** Resolves when the server has closed the connection. */
  async closed(): Promise<void> {
    while (!this.ended) await this.more();
  }

  close(): void {
    this.socket.destroy();
  }
}

describe('DirectReplies: hot answers written straight to the socket', () => {
  const hot = new HotAnswers();
  const bytes = Buffer.from('the bytes of a.tgz');
  /** Paths answered by the direct front, in order. */
  const direct: string[] = [];
  let fullPath = false;
  const failures: string[] = [];
  /** The server's side of each connection. */
  const accepted: Socket[] = [];
  let front: DirectReplies;
  let server: Server;
  let port: number;

  beforeAll(async () => {
    // The full path: /a.tgz is remembered and answered 200 ("full"); anything else is a 404.
    server = createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
      if (hot.serve(req, res)) return;
      if (req.url === '/a.tgz' && req.method === 'GET') {
        hot.remember(req, { headers: { 'content-type': 'application/octet-stream', etag: '"a1"', 'x-path': 'replayed', 'x-cache': 'HIT' }, etag: '"a1"', bytes: () => bytes });
        res.writeHead(200, { 'content-type': 'application/octet-stream', etag: '"a1"', 'x-path': 'full', 'content-length': bytes.length }).end(bytes);
        return;
      }
      if (req.url === '/boom') {
        // Remembered with bytes that cannot be read: a defect the replay must survive.
        hot.remember(req, { headers: {}, etag: '"b"', bytes: () => { throw new Error('bytes gone wrong'); } });
        res.writeHead(200, { 'content-length': 4 }).end('boom');
        return;
      }
      req.resume();
      req.on('end', () => res.writeHead(404, { 'x-path': 'full', 'content-length': 9 }).end('not found'));
    });
    front = new DirectReplies({
      hot,
      replayed: (req) => direct.push(`${req.method} ${req.url}`),
      failed: (error) => failures.push(String(error)),
      fullPath: () => fullPath,
      extraHeaders: { 'x-registry-core-worker': '3' },
      keepAliveTimeoutMs: 5_000,
    });
    expect(front.stepInFront(server)).toBe(true);
    server.on('connection', (socket: Socket) => accepted.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    port = (server.address() as AddressInfo).port;
    // The first answer takes the full path and is remembered.
    const warm = await Raw.open(port);
    warm.send('GET /a.tgz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await warm.answer()).headers['x-path']).toBe('full');
    warm.close();
  });
  afterAll(async () => {
    front.closeAll();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const count = () => direct.length;

  it('replays hot answers on a connection that asks only for them, with the headers Node writes', async () => {
    const before = count();
    const raw = await Raw.open(port);
    raw.send('GET /a.tgz HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n');
    const first = await raw.answer();
    raw.send('GET /a.tgz HTTP/1.1\r\nHost: x\r\nX-Request-Id: mine\r\n\r\n');
    const second = await raw.answer();
    expect([first.status, first.body, first.headers['x-path'], second.body]).toEqual([200, 'the bytes of a.tgz', 'replayed', 'the bytes of a.tgz']);
    expect(count() - before).toBe(2);
    expect(front.connections).toBe(1);
    expect(second.headers['x-request-id']).toBe('mine');
    expect(first.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.headers).toMatchObject({ 'content-length': String(bytes.length), connection: 'keep-alive', 'keep-alive': 'timeout=5', 'x-registry-core-worker': '3', 'x-cache': 'HIT', etag: '"a1"' });
    expect(new Date(first.headers['date']!).getTime()).toBeGreaterThan(Date.now() - 60_000);

    // The same replay through Node's response (a connection Node serves after a miss) has the
    // same headers, but the worker's (added by the host to every answer it sends, not here).
    raw.send('GET /missing HTTP/1.1\r\nHost: x\r\n\r\nGET /a.tgz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await raw.answer()).status).toBe(404);
    const throughNode = await raw.answer();
    expect(throughNode.body).toBe('the bytes of a.tgz');
    const names = (answer: Answer) => Object.keys(answer.headers).filter((name) => name !== 'x-registry-core-worker').sort();
    expect(names(first)).toEqual(names(throughNode));
    for (const name of names(first).filter((n) => n !== 'date' && n !== 'x-request-id')) expect([name, first.headers[name]]).toEqual([name, throughNode.headers[name]]);
    expect(count() - before).toBe(2);
    expect(front.connections).toBe(0);
    raw.close();
  });

  it('answers pipelined requests in order, giving Node the connection at the first it does not answer', async () => {
    const before = count();
    const raw = await Raw.open(port);
    raw.send('GET /a.tgz HTTP/1.1\r\nHost: x\r\n\r\nHEAD /a.tgz HTTP/1.1\r\nHost: x\r\n\r\nGET /b.tgz HTTP/1.1\r\nHost: x\r\n\r\nGET /a.tgz HTTP/1.1\r\nHost: x\r\nIf-None-Match: "a1"\r\n\r\n');
    const answers = [await raw.answer(), await raw.answer(true), await raw.answer(), await raw.answer()];
    expect(answers.map((a) => [a.status, a.body])).toEqual([
      [200, 'the bytes of a.tgz'],
      [200, ''],
      [404, 'not found'],
      [304, ''],
    ]);
    expect(answers[1]!.headers['content-length']).toBe(String(bytes.length));
    expect(direct.slice(before)).toEqual(['GET /a.tgz', 'HEAD /a.tgz']);
    raw.close();
  });

  it('gives Node a request split across reads, and one it frames otherwise (a body, HTTP/1.0, bare LFs, odd bytes)', async () => {
    const before = count();
    const split = await Raw.open(port);
    split.send('GET /a.tgz HTTP/1.1\r\nHo');
    // The second part is sent once the server has read the first.
    while ((accepted.at(-1)?.bytesRead ?? 0) < 22) await new Promise((resolve) => setImmediate(resolve));
    split.send('st: x\r\n\r\n');
    expect((await split.answer()).body).toBe('the bytes of a.tgz');
    split.close();

    // A GET with a body that looks like a second request: Node frames it as one request with a
    // body (answered once), then the 404: the body is never answered as a request of its own.
    const smuggled = await Raw.open(port);
    const inner = 'GET /a.tgz HTTP/1.1\r\nHost: x\r\n\r\n';
    smuggled.send(`GET /a.tgz HTTP/1.1\r\nHost: x\r\nContent-Length: ${inner.length}\r\n\r\n${inner}GET /missing HTTP/1.1\r\nHost: x\r\n\r\n`);
    const [one, two] = [await smuggled.answer(), await smuggled.answer()];
    expect([one.headers['x-path'], two.status]).toEqual(['replayed', 404]);
    expect(count() - before).toBe(0);
    smuggled.close();

    for (const request of [
      'GET /a.tgz HTTP/1.0\r\nHost: x\r\n\r\n',
      'GET /a.tgz HTTP/1.1\nHost: x\n\n',
      'GET /a.tgz HTTP/1.1\r\nHost: x\r\nX-Odd: caf\xe9\r\n\r\n',
      'GET /a.tgz HTTP/1.1\r\nHost: x\r\nAccept: a\r\nAccept: b\r\n\r\n',
      'GET /a.tgz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'GET /a.tgz HTTP/1.1\r\n\r\n',
      'GET http://x/a.tgz HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /a.tgz HTTP/1.1\r\nHost: x\r\n Folded: value\r\n\r\n',
    ]) {
      const raw = await Raw.open(port);
      raw.send(request);
      const answer = await raw.answer().catch(() => undefined);
      raw.close();
      // Whatever Node makes of it (an answer, a 400, a closed connection): not the direct front's.
      expect([request, count() - before]).toEqual([request, 0]);
      if (answer?.status === 200) expect(answer.body).toBe('the bytes of a.tgz');
    }
  });

  it('gives Node a request with Connection: close (it answers and closes), and every request while the server drains', async () => {
    const before = count();
    const raw = await Raw.open(port);
    raw.send('GET /a.tgz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect((await raw.answer()).headers['connection']).toBe('close');
    await raw.closed();
    expect(count() - before).toBe(0);

    fullPath = true;
    try {
      const draining = await Raw.open(port);
      draining.send('GET /a.tgz HTTP/1.1\r\nHost: x\r\n\r\n');
      expect((await draining.answer()).body).toBe('the bytes of a.tgz');
      expect(count() - before).toBe(0);
      draining.close();
    } finally {
      fullPath = false;
    }
  });

  it('ends the connection, and says so, when a replay throws (the process keeps serving)', async () => {
    const first = await Raw.open(port);
    first.send('GET /boom HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await first.answer()).body).toBe('boom');
    first.close();
    const raw = await Raw.open(port);
    raw.send('GET /boom HTTP/1.1\r\nHost: x\r\n\r\n');
    await raw.closed();
    expect(failures).toEqual(['Error: bytes gone wrong']);
    const after = await Raw.open(port);
    after.send('GET /a.tgz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await after.answer()).body).toBe('the bytes of a.tgz');
    after.close();
  });

  it('ends its idle connections when told to (a shutdown), after the answers written', async () => {
    const raw = await Raw.open(port);
    raw.send('GET /a.tgz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await raw.answer()).body).toBe('the bytes of a.tgz');
    expect(front.connections).toBe(1);
    front.closeIdle();
    await raw.closed();
    raw.close();
    while (front.connections > 0) await new Promise((resolve) => setImmediate(resolve));
  });
});

describe('parseRequest', () => {
  const parse = (text: string) => parseRequest(text, 0, text.indexOf('\r\n\r\n'));

  it('reads a plain GET or HEAD: names lower-cased, values without surrounding spaces and tabs', () => {
    expect(parse('GET /npm/a/-/a-1.0.0.tgz?x=1 HTTP/1.1\r\nHost: h:4000\r\nAccept:  application/json \t\r\nAuthorization: Bearer rc_x\r\n\r\n')).toEqual({
      method: 'GET',
      url: '/npm/a/-/a-1.0.0.tgz?x=1',
      headers: { host: 'h:4000', accept: 'application/json', authorization: 'Bearer rc_x' },
    });
    expect(parse('HEAD / HTTP/1.1\r\nhost: h\r\nconnection: Keep-Alive\r\n\r\n')?.method).toBe('HEAD');
  });

  it('refuses anything else', () => {
    for (const text of [
      'POST /a HTTP/1.1\r\nHost: h\r\n\r\n',
      'get /a HTTP/1.1\r\nHost: h\r\n\r\n',
      'GET /a HTTP/1.0\r\nHost: h\r\n\r\n',
      'GET /a HTTP/1.1 \r\nHost: h\r\n\r\n',
      'GET  /a HTTP/1.1\r\nHost: h\r\n\r\n',
      'GET /a b HTTP/1.1\r\nHost: h\r\n\r\n',
      'GET * HTTP/1.1\r\nHost: h\r\n\r\n',
      'GET /a HTTP/1.1\r\n\r\n',
      'GET /a HTTP/1.1\r\nHost: h\r\nHost: i\r\n\r\n',
      'GET /a HTTP/1.1\r\nHost: h\r\nHOST: i\r\n\r\n',
      'GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n',
      'GET /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n',
      'GET /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n',
      'GET /a HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n',
      'GET /a HTTP/1.1\r\nHost: h\r\nVia: 1.1 registry-core-x\r\n\r\n',
      'GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n',
      'GET /a HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n',
      'GET /a HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n',
      'GET /a HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n',
      'GET /a HTTP/1.1\r\nHost: h\r\nNo-Colon\r\n\r\n',
      'GET /a HTTP/1.1\r\nHost: h\r\n Folded: x\r\n\r\n',
      'GET /a HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n',
      'GET /a HTTP/1.1\r\nHost: h\r\nX: a\nb\r\n\r\n',
      'GET /a HTTP/1.1\r\nHost: h\r\nX: a\u0000b\r\n\r\n',
      'GET /\xe9 HTTP/1.1\r\nHost: h\r\n\r\n',
      `GET /a HTTP/1.1\r\nHost: h\r\n${Array.from({ length: 65 }, (_, i) => `X-${i}: v\r\n`).join('')}\r\n`,
    ]) {
      expect([text, parse(text)]).toEqual([text, undefined]);
    }
  });
});
