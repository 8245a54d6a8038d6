// The kernel end to end, through the example third-party plugin loaded by path:
// hosted / proxy / group, auth, HTTP caching semantics, coalescing, negative cache,
// limits and hostile paths.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserAndToken, rawRequest, repoRoot, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

const plugin = path.join(repoRoot, 'examples', 'raw-format-plugin');

/** A fixture upstream that counts requests and answers slowly, to observe coalescing. */
function fixtureUpstream(): Promise<{ server: Server; url: string; hits: Map<string, number>; files: Map<string, string> }> {
  const hits = new Map<string, number>();
  const files = new Map<string, string>();
  const server = createServer((req, res) => {
    const p = req.url ?? '/';
    hits.set(p, (hits.get(p) ?? 0) + 1);
    setTimeout(() => {
      const body = files.get(p);
      if (body === undefined) {
        res.writeHead(404).end('nope');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) }).end(body);
    }, 300);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, hits, files })));
}

describe('kernel through a third-party format plugin loaded by path', () => {
  let upstreamRegistry: RunningRegistry;
  let registry: RunningRegistry;
  let fixture: Awaited<ReturnType<typeof fixtureUpstream>>;
  let token: string;
  let readOnlyToken: string;

  beforeAll(async () => {
    fixture = await fixtureUpstream();
    upstreamRegistry = await startRegistry(`
plugins: ["${plugin}"]
repositories:
  files: { format: raw, type: hosted }
`);
    const upstreamToken = await createUserAndToken(upstreamRegistry.configFile, 'seeder');
    const seeded = await fetch(`${upstreamRegistry.url}/files/from-upstream/readme.txt`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${upstreamToken}` },
      body: 'served by the upstream registry',
    });
    expect(seeded.status).toBe(201);
    const shadowed = await fetch(`${upstreamRegistry.url}/files/from-upstream/shadowed.txt`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${upstreamToken}` },
      body: 'public bytes',
    });
    expect(shadowed.status).toBe(201);
    registry = await startRegistry(`
plugins: ["${plugin}"]
limits: { maxUploadSize: 1mb }
repositories:
  local: { format: raw, type: hosted }
  remote: { format: raw, type: proxy, upstream: "${upstreamRegistry.url}/files/" }
  counted: { format: raw, type: proxy, upstream: "${fixture.url}", cache: { negativeTtl: 60 } }
  all: { format: raw, type: group, members: [local, remote] }
`);
    token = await createUserAndToken(registry.configFile, 'alice');
    readOnlyToken = await createUserAndToken(registry.configFile, 'alice', { readOnly: true });
  });

  afterAll(async () => {
    await registry?.stop();
    await upstreamRegistry?.stop();
    fixture?.server.close();
  });

  const put = (p: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${registry.url}${p}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, ...headers }, body });

  it('refuses an anonymous upload with 401 and a challenge, a read-only token with 403', async () => {
    const anonymous = await fetch(`${registry.url}/local/x.txt`, { method: 'PUT', body: 'x' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic /);
    const readOnly = await fetch(`${registry.url}/local/x.txt`, { method: 'PUT', body: 'x', headers: { authorization: `Bearer ${readOnlyToken}` } });
    expect(readOnly.status).toBe(403);
    const bogus = await fetch(`${registry.url}/local/x.txt`, { headers: { authorization: 'Bearer rc_not-a-token' } });
    expect(bogus.status).toBe(401);
    expect((await fetch(`${registry.url}/local/x.txt`)).status).toBe(404);
  });

  it("takes a token from the format's own credential header, and refuses a bad one", async () => {
    const ok = await fetch(`${registry.url}/local/keyed/a.txt`, { method: 'PUT', headers: { 'x-api-key': token }, body: 'by api key' });
    expect(ok.status).toBe(201);
    const bad = await fetch(`${registry.url}/local/keyed/b.txt`, { method: 'PUT', headers: { 'x-api-key': 'rc_not-a-token' }, body: 'x' });
    expect(bad.status).toBe(401);
    // A bad key is refused on reads too, even of files anyone may read (never replayed past the check).
    for (let i = 0; i < 3; i++) expect((await fetch(`${registry.url}/local/keyed/a.txt`)).status).toBe(200);
    expect((await fetch(`${registry.url}/local/keyed/a.txt`, { headers: { 'x-api-key': 'rc_not-a-token' } })).status).toBe(401);
  });

  it('stores and serves with ETag, 304, Range, HEAD and immutable caching', async () => {
    expect((await put('/local/dir/hello.txt', 'hello, world')).status).toBe(201);
    const got = await fetch(`${registry.url}/local/dir/hello.txt`);
    expect(got.status).toBe(200);
    expect(await got.text()).toBe('hello, world');
    const etag = got.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    expect(got.headers.get('cache-control')).toContain('immutable');
    expect(got.headers.get('last-modified')).toBeTruthy();
    expect((await fetch(`${registry.url}/local/dir/hello.txt`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    const ranged = await fetch(`${registry.url}/local/dir/hello.txt`, { headers: { range: 'bytes=7-' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe('bytes 7-11/12');
    expect(await ranged.text()).toBe('world');
    expect((await fetch(`${registry.url}/local/dir/hello.txt`, { headers: { range: 'bytes=50-' } })).status).toBe(416);
    const head = await fetch(`${registry.url}/local/dir/hello.txt`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('12');
  });

  it('refuses an overwrite, a digest mismatch, an oversized body and traversal, storing nothing', async () => {
    expect((await put('/local/dir/hello.txt', 'other')).status).toBe(409);
    expect(await (await fetch(`${registry.url}/local/dir/hello.txt`)).text()).toBe('hello, world');
    const mismatch = await put('/local/bad.txt', 'abc', { 'x-checksum-sha256': '0'.repeat(64) });
    expect(mismatch.status).toBe(400);
    expect(await mismatch.text()).toContain('INTEGRITY_MISMATCH');
    expect((await fetch(`${registry.url}/local/bad.txt`)).status).toBe(404);
    const big = await put('/local/big.bin', Buffer.alloc(2 * 1024 * 1024, 1));
    expect(big.status).toBe(413);
    expect((await fetch(`${registry.url}/local/big.bin`)).status).toBe(404);
    const auth = { authorization: `Bearer ${token}` };
    for (const hostile of ['/local/a/..%2f..%2fetc/passwd', '/local/a/%2e%2e/b', '/local/a/../../b', '/local/a/%00b', '/local/a\\..\\b']) {
      const answer = await rawRequest(registry.url, hostile, { method: 'PUT', headers: auth, body: 'x' });
      expect(answer.status, hostile).toBe(400);
    }
    expect((await fetch(`${registry.url}/nope/x`)).status).toBe(404);
  });

  it('proxies another registry-core instance: MISS, then HIT', async () => {
    const first = await fetch(`${registry.url}/remote/from-upstream/readme.txt`);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-cache')).toBe('MISS');
    expect(await first.text()).toBe('served by the upstream registry');
    const second = await fetch(`${registry.url}/remote/from-upstream/readme.txt`);
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect(await second.text()).toBe('served by the upstream registry');
  });

  it('coalesces concurrent misses into one upstream request', async () => {
    fixture.files.set('/popular.txt', 'many want this');
    const answers = await Promise.all(Array.from({ length: 25 }, () => fetch(`${registry.url}/counted/popular.txt`).then(async (r) => [r.status, await r.text()])));
    for (const [status, text] of answers) {
      expect(status).toBe(200);
      expect(text).toBe('many want this');
    }
    expect(fixture.hits.get('/popular.txt')).toBe(1);
  });

  it('remembers an upstream 404 for the negative TTL', async () => {
    expect((await fetch(`${registry.url}/counted/later.txt`)).status).toBe(404);
    fixture.files.set('/later.txt', 'appeared');
    expect((await fetch(`${registry.url}/counted/later.txt`)).status).toBe(404);
    expect(fixture.hits.get('/later.txt')).toBe(1);
  });

  it('serves a group: hosted first, then the proxy, 404 when no member has it', async () => {
    expect(await (await fetch(`${registry.url}/all/dir/hello.txt`)).text()).toBe('hello, world');
    expect(await (await fetch(`${registry.url}/all/from-upstream/readme.txt`)).text()).toBe('served by the upstream registry');
    const missing = await fetch(`${registry.url}/all/none/such.txt`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toMatch(/^404 NOT_FOUND/);
  });

  it('replays hot anonymous answers (304 and HEAD too), and forgets them when a member changes', async () => {
    const url = `${registry.url}/all/from-upstream/shadowed.txt`;
    const states = [];
    for (let i = 0; i < 4; i++) {
      const answer = await fetch(url);
      expect(await answer.text()).toBe('public bytes');
      states.push(answer.headers.get('x-cache'));
    }
    // MISS, then HIT (remembered), then replayed HITs.
    expect(states).toEqual(['MISS', 'HIT', 'HIT', 'HIT']);
    const replayed = await fetch(url);
    const etag = replayed.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    expect(replayed.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(replayed.headers.get('x-request-id')).toBeTruthy();
    // The replay carries every header of the first answer: the member that answered too.
    expect(replayed.headers.get('x-registry-member')).toBe('remote');
    await replayed.arrayBuffer();
    expect((await fetch(url, { headers: { 'if-none-match': etag } })).status).toBe(304);
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe(String('public bytes'.length));
    // Replayed hits are counted for the proxy that holds the file.
    const stats = (await (await fetch(`${registry.url}/-/stats`)).json()) as { repositories: Record<string, { hits: number }> };
    expect(stats.repositories['remote']!.hits).toBeGreaterThanOrEqual(6);
    // A hosted member now has the path: the group's answer changes at once.
    expect((await put('/local/from-upstream/shadowed.txt', 'hosted wins')).status).toBe(201);
    expect(await (await fetch(url)).text()).toBe('hosted wins');
  });

  it('serves cached content when the upstream is gone', async () => {
    await upstreamRegistry.stop();
    const cached = await fetch(`${registry.url}/remote/from-upstream/readme.txt`);
    expect(cached.status).toBe(200);
    expect(await cached.text()).toBe('served by the upstream registry');
    const uncached = await fetch(`${registry.url}/remote/never/fetched.txt`);
    expect(uncached.status).toBe(502);
  });
});
