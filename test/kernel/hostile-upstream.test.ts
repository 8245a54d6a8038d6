// No upstream can end the registry process: an upstream that closes its connection while
// the body is held back by backpressure (undici issue 5360 ended the process once), and a
// sweep of hostile behaviours against ONE running server, which must still answer its
// health check and a cached file after each.
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

const plugin = path.join(repoRoot, 'examples', 'raw-format-plugin');

/** Bytes a cut body announces: far more than it sends, above the 1 MiB streaming threshold. */
const ANNOUNCED = 16 * 1024 * 1024;
/** The half of it a cut body sends (one buffer for every answer). */
const HALF = Buffer.alloc(ANNOUNCED / 2, 0x61);

type Behaviour = (socket: Socket, request: string) => void;

/**
 * A raw TCP upstream: reads the request head, then does whatever the behaviour for its
 * path says, byte by byte, with no HTTP library in the way.
 */
async function rawUpstream(behaviours: (path: string) => Behaviour | undefined): Promise<{ server: Server; port: number; hits: Map<string, number> }> {
  const hits = new Map<string, number>();
  const server = createNetServer((socket) => {
    socket.on('error', () => undefined);
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) {
        // Not HTTP at all (a TLS ClientHello): answer like a plain HTTP server would.
        if (head.length > 3 && !/^[A-Z]+ /.test(head)) {
          socket.removeListener('data', onData);
          socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        }
        return;
      }
      socket.removeListener('data', onData);
      const p = /^[A-Z]+ (\S+)/.exec(head)?.[1] ?? '/';
      hits.set(p, (hits.get(p) ?? 0) + 1);
      const behaviour = behaviours(p);
      if (behaviour) behaviour(socket, head);
      else {
        const body = `content of ${p}`;
        socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        onNext();
      }
    };
    // Keep-alive for the well-behaved answers: read the next request on the same socket.
    const onNext = () => {
      head = '';
      socket.on('data', onData);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', () => resolve()));
  return { server, port: (server.address() as AddressInfo).port, hits };
}

/** Headers announcing `ANNOUNCED` bytes, a first part of the body, then FIN. */
const cutBody: Behaviour = (socket) => {
  // Not kept alive (as an HTTP/1.0 static file server answers): the end of the socket is
  // the end of the answer, which is what the parser must handle while paused.
  socket.write(`HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\nContent-Length: ${ANNOUNCED}\r\n\r\n`);
  socket.write(HALF);
  socket.end();
};

/** Read a response slowly: a chunk, then a pause, to the end or the cut. */
async function readSlowly(url: string): Promise<{ status: number; bytes: number; cut: boolean }> {
  const res = await fetch(url);
  const reader = res.body!.getReader();
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { status: res.status, bytes, cut: false };
      bytes += value.length;
      await new Promise((r) => setTimeout(r, 5));
    }
  } catch {
    return { status: res.status, bytes, cut: true };
  }
}

describe('an upstream closing its connection while the body is held back', () => {
  let upstream: Awaited<ReturnType<typeof rawUpstream>>;
  let registry: RunningRegistry;
  beforeAll(async () => {
    upstream = await rawUpstream((p) => (p.startsWith('/cut/') ? cutBody : undefined));
    registry = await startRegistry(`
plugins: ["${plugin}"]
repositories:
  raw: { format: raw, type: proxy, upstream: "http://127.0.0.1:${upstream.port}/" }
`);
  });
  afterAll(async () => {
    await registry?.stop();
    upstream?.server.close();
  });

  it('answers a cut response or a 502 and stays up, however slowly clients read', async () => {
    // Many at once, so the registry's side of each download (the spool) falls behind the
    // loopback upstream and holds the body back, as a loaded server does.
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => readSlowly(`${registry.url}/raw/cut/${round}-${i}.bin`)));
      for (const answer of answers) {
        // Either a clean error before the body, or a body cut short: never the whole.
        if (answer.status === 200) expect(answer.cut || answer.bytes < ANNOUNCED).toBe(true);
        else expect(answer.status).toBe(502);
      }
      expect(registry.process.exitCode, registry.output()).toBeNull();
      expect((await fetch(`${registry.url}/-/health`)).status).toBe(200);
    }
    // Nothing partial became an entry: asked again, it goes upstream again.
    await readSlowly(`${registry.url}/raw/cut/0-0.bin`);
    expect(upstream.hits.get('/cut/0-0.bin')).toBe(2);
    expect(registry.output()).not.toMatch(/AssertionError/);
  });
});

describe('a sweep of hostile upstream behaviours against one server', () => {
  let upstream: Awaited<ReturnType<typeof rawUpstream>>;
  let registry: RunningRegistry;
  const behaviours = new Map<string, Behaviour>();
  beforeAll(async () => {
    upstream = await rawUpstream((p) => behaviours.get(p));
    const http = `http://127.0.0.1:${upstream.port}/`;
    registry = await startRegistry(`
plugins: ["${plugin}"]
repositories:
  raw: { format: raw, type: proxy, upstream: "${http}", cache: { retries: 0, upstreamTimeout: 1, idleTimeout: 1, circuitBreaker: { failures: 1000 } } }
  tls: { format: raw, type: proxy, upstream: "https://127.0.0.1:${upstream.port}/", cache: { retries: 0, upstreamTimeout: 1 } }
`);
  });
  afterAll(async () => {
    await registry?.stop();
    upstream?.server.close();
  });

  const head = (status: string, headers: string[]) => `HTTP/1.1 ${status}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;
  const cases: [string, Behaviour][] = [
    ['reset mid-headers', (s) => { s.write('HTTP/1.1 200 OK\r\nContent-Ty'); s.resetAndDestroy(); }],
    ['FIN mid-headers', (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n')],
    ['reset mid-body', (s) => { s.write(head('200 OK', ['Content-Length: 100000'])); s.write(Buffer.alloc(5000, 1)); setTimeout(() => s.resetAndDestroy(), 20); }],
    ['FIN mid-body with backpressure', cutBody],
    ['garbage status line', (s) => s.end('HTTQ/9.9 abc def\r\n\r\nwhatever')],
    ['binary garbage', (s) => s.end(Buffer.from([0, 1, 2, 255, 254, 13, 10, 13, 10]))],
    ['huge headers', (s) => { s.write('HTTP/1.1 200 OK\r\n'); for (let i = 0; i < 2000; i++) s.write(`X-Filler-${i}: ${'x'.repeat(100)}\r\n`); s.end('\r\n'); }],
    ['one huge header line', (s) => s.end(`HTTP/1.1 200 OK\r\nX-Big: ${'y'.repeat(1 << 20)}\r\nContent-Length: 0\r\n\r\n`)],
    ['invalid chunk size', (s) => s.end(`${head('200 OK', ['Transfer-Encoding: chunked'])}zz\r\nabc\r\n0\r\n\r\n`)],
    ['chunked, cut before the last chunk', (s) => s.end(`${head('200 OK', ['Transfer-Encoding: chunked'])}5\r\nhello\r\n`)],
    ['chunk longer than announced', (s) => s.end(`${head('200 OK', ['Transfer-Encoding: chunked'])}2\r\nhello world\r\n0\r\n\r\n`)],
    ['chunked and Content-Length both', (s) => s.end(`${head('200 OK', ['Transfer-Encoding: chunked', 'Content-Length: 3'])}3\r\nabc\r\n0\r\n\r\n`)],
    ['Content-Length short of the body', (s) => s.end(`${head('200 OK', ['Content-Length: 3'])}abcdefghij`)],
    ['Content-Length longer than the body', (s) => s.end(`${head('200 OK', ['Content-Length: 1000'])}abc`)],
    ['two different Content-Lengths', (s) => s.end(`${head('200 OK', ['Content-Length: 3', 'Content-Length: 5'])}abcde`)],
    ['negative Content-Length', (s) => s.end(`${head('200 OK', ['Content-Length: -5'])}abc`)],
    ['gzip claimed, not gzip', (s) => s.end(`${head('200 OK', ['Content-Encoding: gzip', 'Content-Length: 12'])}not gzip at all`)],
    ['redirect loop', (s, r) => s.end(head('302 Found', [`Location: ${/^[A-Z]+ (\S+)/.exec(r)![1]}`, 'Content-Length: 0']))],
    ['redirect to a private address', (s) => s.end(head('302 Found', [`Location: http://127.0.0.2:${upstream.port}/secret`, 'Content-Length: 0']))],
    ['redirect to another scheme', (s) => s.end(head('302 Found', ['Location: file:///etc/passwd', 'Content-Length: 0']))],
    ['redirect to nonsense', (s) => s.end(head('302 Found', ['Location: http://[::1', 'Content-Length: 0']))],
    ['1xx flood', (s) => { const flood = () => { if (!s.destroyed) { s.write('HTTP/1.1 102 Processing\r\n\r\n'); setTimeout(flood, 5); } }; flood(); setTimeout(() => s.destroy(), 1500); }],
    ['101 switching protocols', (s) => s.end(head('101 Switching Protocols', ['Upgrade: websocket', 'Connection: Upgrade']) + 'raw bytes')],
    ['answer then silence', (s) => s.write(head('200 OK', ['Content-Length: 10']) + 'abc')],
    ['nothing at all', (s) => setTimeout(() => s.destroy(), 1500)],
    ['immediate close', (s) => s.destroy()],
    ['HTTP/0.9 style body only', (s) => s.end('just some bytes, no status line')],
    ['status 999', (s) => s.end(`${head('999 Whatever', ['Content-Length: 3'])}abc`)],
    ['header with a NUL', (s) => s.end(`HTTP/1.1 200 OK\r\nX-Bad: a\u0000b\r\nContent-Length: 3\r\n\r\nabc`)],
    ['bare LF line ends', (s) => s.end('HTTP/1.1 200 OK\nContent-Length: 3\n\nabc')],
  ];

  async function stillServing(after: string) {
    expect(registry.process.exitCode, `${after}\n${registry.output()}`).toBeNull();
    expect((await fetch(`${registry.url}/-/health`)).status, after).toBe(200);
    const cached = await fetch(`${registry.url}/raw/well/known.bin`);
    expect(cached.status, after).toBe(200);
    expect(cached.headers.get('x-cache'), after).toBe('HIT');
    expect(await cached.text(), after).toBe('content of /well/known.bin');
  }

  it('still serves after each', async () => {
    const first = await fetch(`${registry.url}/raw/well/known.bin`);
    expect(first.headers.get('x-cache')).toBe('MISS');
    await first.text();
    let n = 0;
    for (const [name, behaviour] of cases) {
      const file = `/case-${n++}.bin`;
      behaviours.set(file, behaviour);
      const answer = await fetch(`${registry.url}/raw${file}`).then(
        async (res) => ({ status: res.status, body: await res.text().catch(() => '(cut)') }),
        () => ({ status: 0, body: '(no answer)' }),
      );
      // Whatever the upstream did, the client gets an answer (an error, or the bytes of a
      // body that was complete on the wire) and the registry lives on.
      expect(answer.status, `${name}: ${answer.body}`).not.toBe(0);
      expect(answer.status, `${name}: ${answer.body}`).not.toBe(500);
      await stillServing(name);
    }
    // A TLS upstream that speaks plain HTTP.
    const tls = await fetch(`${registry.url}/tls/anything.bin`);
    expect(tls.status, await tls.text()).toBe(502);
    await stillServing('plain HTTP where TLS was expected');
    // The redirect to a private address was never followed.
    expect(upstream.hits.get('/secret')).toBeUndefined();
  });
});
