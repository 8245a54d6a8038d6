// The streaming tee of the proxy cache, against an upstream the test holds mid-body, cuts
// off, or makes lie about its bytes: clients get the first bytes while the artifact is
// still arriving, one upstream request serves them all, a client going away does not stop
// the caching, and a partial or wrong download never becomes a cache entry.
import { createHash } from 'node:crypto';
import { request as httpRequest, createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, repoRoot, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

const plugin = path.join(repoRoot, 'examples', 'raw-format-plugin');
/** Above the 1 MiB up to which an answer waits for the content to be stored. */
const SIZE = 4 * 1024 * 1024;

/** Deterministic bytes per path, so every test knows what a correct body is. */
function contentOf(name: string): Buffer {
  const out = Buffer.alloc(SIZE);
  let seed = createHash('sha256').update(name).digest();
  for (let offset = 0; offset < SIZE; offset += seed.length) {
    seed.copy(out, offset);
    seed = createHash('sha256').update(seed).digest();
  }
  return out;
}

interface Upstream {
  server: Server;
  url: string;
  hits: Map<string, number>;
  /** Paths whose second half waits until the test releases it. */
  held: Map<string, { release: () => void; released: Promise<void> }>;
}

function hold(upstream: Upstream, p: string): () => void {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  upstream.held.set(p, { release, released });
  return release;
}

async function startUpstream(): Promise<Upstream> {
  const u = { hits: new Map(), held: new Map() } as unknown as Upstream;
  u.server = createServer((req, res: ServerResponse) => {
    const p = req.url ?? '/';
    u.hits.set(p, (u.hits.get(p) ?? 0) + 1);
    if (p.endsWith('.sha256')) {
      const file = p.slice(0, -'.sha256'.length);
      // /bad/ files announce the digest of other bytes.
      const digest = createHash('sha256').update(contentOf(file.startsWith('/bad/') ? 'something else' : file)).digest('hex');
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`${digest}  ${path.basename(file)}\n`);
      return;
    }
    const body = contentOf(p);
    // /chunked/ files come without a Content-Length.
    res.writeHead(200, { 'content-type': 'application/octet-stream', ...(p.startsWith('/chunked/') ? {} : { 'content-length': SIZE }) });
    if (p.startsWith('/early/')) res.flushHeaders();
    const half = SIZE / 2;
    if (!p.startsWith('/early/')) res.write(body.subarray(0, half));
    if (p.startsWith('/drop/')) {
      // Cut the connection mid-body, once the test has seen the first half arrive.
      void u.held.get(p)?.released.then(() => res.socket?.destroy());
      return;
    }
    if (p.startsWith('/early/')) {
      // Headers, then the connection is cut before any byte of the body.
      res.socket?.destroy();
      return;
    }
    const held = u.held.get(p);
    void (held ? held.released : Promise.resolve()).then(() => res.end(body.subarray(half)));
  });
  await new Promise<void>((resolve) => u.server.listen(0, '127.0.0.1', () => resolve()));
  u.url = `http://127.0.0.1:${(u.server.address() as AddressInfo).port}/`;
  return u;
}

interface Download {
  status: number;
  headers: IncomingHttpHeaders;
  received: number;
  body: Buffer;
  /** Set when the response was cut short. */
  error?: string;
  /** Resolves once the response ended or broke. */
  done: Promise<void>;
  /** Resolves once at least `bytes` arrived. */
  reached(bytes: number): Promise<void>;
  abort(): void;
}

/** A GET whose progress the test can watch byte by byte. */
function download(url: string, method = 'GET'): Promise<Download> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      const waiters: { bytes: number; resolve: () => void }[] = [];
      let finish!: () => void;
      const d: Download = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        received: 0,
        get body() {
          return Buffer.concat(chunks);
        },
        done: new Promise<void>((r) => (finish = r)),
        reached: (bytes) => (d.received >= bytes ? Promise.resolve() : new Promise<void>((r) => waiters.push({ bytes, resolve: r }))),
        abort: () => req.destroy(),
      };
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        d.received += chunk.length;
        for (const w of waiters.filter((w) => d.received >= w.bytes)) w.resolve();
      });
      res.on('end', () => finish());
      res.on('aborted', () => (d.error = 'aborted'));
      res.on('error', (e) => {
        d.error = e.message;
        finish();
      });
      res.on('close', () => {
        if (!res.complete) d.error ??= 'incomplete';
        finish();
      });
      resolve(d);
    });
    req.end();
  });
}


describe('streaming tee', () => {
  let upstream: Upstream;
  let registry: RunningRegistry;

  beforeAll(async () => {
    upstream = await startUpstream();
    registry = await startRegistry(`
plugins: ["${plugin}"]
repositories:
  tee: { format: raw, type: proxy, upstream: "${upstream.url}" }
  checked: { format: raw, type: proxy, upstream: "${upstream.url}", checksums: sha256 }
`);
  });
  afterAll(async () => {
    await registry?.stop();
    upstream?.server.close();
  });

  it('streams the first bytes to every waiting client while the artifact is still arriving, from one upstream request', async () => {
    const release = hold(upstream, '/slow/a.bin');
    const clients = await Promise.all(Array.from({ length: 5 }, () => download(`${registry.url}/tee/slow/a.bin`)));
    // Every client has the first half while the upstream still holds the second.
    await Promise.all(clients.map((c) => c.reached(SIZE / 2)));
    for (const c of clients) {
      expect(c.status).toBe(200);
      expect(c.headers['x-cache']).toBe('MISS');
      expect(c.headers['content-length']).toBe(String(SIZE));
      expect(c.received).toBeLessThan(SIZE);
    }
    expect(upstream.hits.get('/slow/a.bin')).toBe(1);
    release();
    await Promise.all(clients.map((c) => c.done));
    for (const c of clients) {
      expect(c.error).toBeUndefined();
      expect(c.body.equals(contentOf('/slow/a.bin'))).toBe(true);
    }
    const again = await download(`${registry.url}/tee/slow/a.bin`);
    await again.done;
    expect(again.headers['x-cache']).toBe('HIT');
    expect(again.headers.etag).toBe(`"${createHash('sha256').update(contentOf('/slow/a.bin')).digest('hex')}"`);
    expect(upstream.hits.get('/slow/a.bin')).toBe(1);
  });

  it('streams content of unannounced length too, ending the answer only once it is stored', async () => {
    const release = hold(upstream, '/chunked/g.bin');
    const client = await download(`${registry.url}/checked/chunked/g.bin`);
    await client.reached(SIZE / 2);
    expect(client.headers['content-length']).toBeUndefined();
    expect(client.headers['transfer-encoding']).toBe('chunked');
    release();
    await client.done;
    expect(client.error).toBeUndefined();
    expect(client.body.equals(contentOf('/chunked/g.bin'))).toBe(true);
    const again = await download(`${registry.url}/checked/chunked/g.bin`);
    await again.done;
    expect(again.headers['x-cache']).toBe('HIT');
  });

  it('holds back the last byte until the content is verified and stored', async () => {
    const release = hold(upstream, '/slow/last.bin');
    const client = await download(`${registry.url}/checked/slow/last.bin`);
    await client.reached(SIZE / 2);
    release();
    await client.done;
    expect(client.error).toBeUndefined();
    expect(client.body.equals(contentOf('/slow/last.bin'))).toBe(true);
  });

  it('keeps caching when the client that started the download goes away', async () => {
    const release = hold(upstream, '/slow/b.bin');
    const leaver = await download(`${registry.url}/tee/slow/b.bin`);
    await leaver.reached(1);
    leaver.abort();
    release();
    const hit = await eventually(
      async () => {
        const d = await download(`${registry.url}/tee/slow/b.bin`);
        await d.done;
        return d;
      },
      (d) => d.headers['x-cache'] === 'HIT',
    );
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body.equals(contentOf('/slow/b.bin'))).toBe(true);
    expect(upstream.hits.get('/slow/b.bin')).toBe(1);
  });

  it('cuts the client short and caches nothing when the upstream drops the connection mid-body', async () => {
    for (const attempt of [1, 2]) {
      const cut = hold(upstream, '/drop/c.bin');
      const client = await download(`${registry.url}/tee/drop/c.bin`);
      await client.reached(1);
      cut();
      await client.done;
      expect(client.status).toBe(200);
      expect(client.error).toBeDefined();
      expect(client.received).toBeLessThan(SIZE);
      // Nothing was stored: each attempt asks the upstream again.
      expect(upstream.hits.get('/drop/c.bin')).toBe(attempt);
    }
    // Counted once the store gave up on it (just after the client saw the cut).
    const stats = await eventually(
      async () => (await (await fetch(`${registry.url}/-/stats`)).json()) as { repositories: Record<string, { upstreamErrors: number }> },
      (value) => value.repositories['tee']!.upstreamErrors >= 2,
    );
    expect(stats.repositories['tee']!.upstreamErrors).toBeGreaterThanOrEqual(2);
  });

  it('answers with the error body when the download fails before its first byte', async () => {
    const response = await fetch(`${registry.url}/tee/early/f.bin`);
    expect(response.status).toBe(502);
    expect(await response.text()).toMatch(/^502 UPSTREAM_FAILED: /);
    expect(upstream.hits.get('/early/f.bin')).toBe(1);
  });

  it('never hands out, nor caches, bytes that do not match their announced digest', async () => {
    const client = await download(`${registry.url}/checked/bad/d.bin`);
    await client.done;
    expect(client.status).toBe(200);
    expect(client.error).toBeDefined();
    expect(client.received).toBeLessThan(SIZE);
    const retry = await download(`${registry.url}/checked/bad/d.bin`);
    await retry.done;
    expect(retry.error).toBeDefined();
    expect(upstream.hits.get('/bad/d.bin')).toBe(2);
    expect(registry.output()).toMatch(/failed verification; not cached/);
  });

  it('answers HEAD on a miss with the announced length, and caches the content for the GET that follows', async () => {
    const head = await download(`${registry.url}/checked/ok/e.bin`, 'HEAD');
    await head.done;
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(SIZE));
    const get = await eventually(
      async () => {
        const d = await download(`${registry.url}/checked/ok/e.bin`);
        await d.done;
        return d;
      },
      (d) => d.headers['x-cache'] === 'HIT',
    );
    expect(get.body.equals(contentOf('/ok/e.bin'))).toBe(true);
    expect(upstream.hits.get('/ok/e.bin')).toBe(1);
  });
});
