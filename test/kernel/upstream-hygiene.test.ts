// Egress hygiene of proxies: redirects and content URLs only to the upstream or an allowed
// origin, no private addresses off the upstream's own host unless allowed, no credentials
// upstream, and a body that stalls is cut and not cached.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageTarball, publishBody } from '../helpers/npm-publish-body.js';
import { createUserAndToken, repoRoot, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

const plugin = path.join(repoRoot, 'examples', 'raw-format-plugin');

interface Server2 {
  server: Server;
  origin: string;
  hits: Map<string, number>;
  headers: Map<string, IncomingHttpHeaders>;
}

async function serve(host: string, handle: (url: string, res: import('node:http').ServerResponse, hit: number) => void): Promise<Server2> {
  const s = { hits: new Map(), headers: new Map() } as unknown as Server2;
  s.server = createServer((req, res) => {
    const url = req.url ?? '/';
    s.hits.set(url, (s.hits.get(url) ?? 0) + 1);
    s.headers.set(url, req.headers);
    handle(url, res, s.hits.get(url)!);
  });
  await new Promise<void>((resolve) => s.server.listen(0, host, () => resolve()));
  s.origin = `http://${host}:${(s.server.address() as AddressInfo).port}`;
  return s;
}

describe('upstream hygiene', () => {
  let upstream: Server2;
  /** Another host (127.0.0.2 is loopback too on Linux): a CDN, or an internal service. */
  let cdn: Server2;
  let registry: RunningRegistry;
  let token: string;
  let tarball: Buffer;

  beforeAll(async () => {
    tarball = await packageTarball({ name: 'cdn-pkg', version: '1.0.0' });
    cdn = await serve('127.0.0.2', (url, res) => {
      if (url === '/files/cdn-pkg-1.0.0.tgz') res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(tarball);
      else res.writeHead(200, { 'content-type': 'text/plain' }).end(`cdn ${url}`);
    });
    upstream = await serve('127.0.0.1', (url, res, hit) => {
      if (url.startsWith('/away/')) {
        res.writeHead(302, { location: `${cdn.origin}/${url.slice('/away/'.length)}` }).end();
      } else if (url === '/stall.bin' && hit === 1) {
        // Headers and a first chunk, then nothing: only the idle timeout ends this.
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '1000' });
        res.write(Buffer.alloc(100, 1));
      } else if (url === '/cdn-pkg') {
        const doc = JSON.parse(publishBody({ name: 'cdn-pkg', version: '1.0.0' }, tarball)) as { versions: Record<string, { dist: { tarball: string } }> };
        doc.versions['1.0.0']!.dist.tarball = `${cdn.origin}/files/cdn-pkg-1.0.0.tgz`;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'cdn-pkg', 'dist-tags': { latest: '1.0.0' }, versions: doc.versions }));
      } else if (url === '/cdn-pkg/-/cdn-pkg-1.0.0.tgz') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(tarball);
      } else {
        res.writeHead(200, { 'content-type': 'text/plain' }).end(`upstream ${url}`);
      }
    });
    const up = `${upstream.origin}/`;
    registry = await startRegistry(`
plugins: ["${plugin}"]
auth: { anonymousRead: true }
repositories:
  strict: { format: raw, type: proxy, upstream: "${up}", cache: { retries: 0 } }
  cdn-public-only: { format: raw, type: proxy, upstream: "${up}", cache: { retries: 0, allowedOrigins: ["${cdn.origin}"] } }
  cdn-private-ok: { format: raw, type: proxy, upstream: "${up}", cache: { allowedOrigins: ["${cdn.origin}"], allowPrivateAddresses: true } }
  stalling: { format: raw, type: proxy, upstream: "${up}", cache: { retries: 0, idleTimeout: 0.3 } }
  npm-conventional: { format: npm, type: proxy, upstream: "${up}" }
  npm-cdn: { format: npm, type: proxy, upstream: "${up}", cache: { allowedOrigins: ["${cdn.origin}"], allowPrivateAddresses: true } }
`);
    token = await createUserAndToken(registry.configFile, 'carol');
  });
  afterAll(async () => {
    await registry?.stop();
    for (const s of [upstream, cdn]) {
      s?.server.closeAllConnections();
      s?.server.close();
    }
  });

  it('refuses a redirect to an origin that is not allowed', async () => {
    const res = await fetch(`${registry.url}/strict/away/one.bin`);
    expect(res.status).toBe(502);
    expect(await res.text()).toMatch(/refusing upstream URL http:\/\/127\.0\.0\.2:\d+: not on the configured upstream/);
    expect(cdn.hits.get('/one.bin')).toBeUndefined();
    expect(upstream.hits.get('/away/one.bin')).toBe(1); // a refusal is not retried
  });

  it('refuses a redirect to an allowed origin on a loopback address, unless private addresses are allowed', async () => {
    const refused = await fetch(`${registry.url}/cdn-public-only/away/two.bin`);
    expect(refused.status).toBe(502);
    expect(await refused.text()).toMatch(/refusing to connect to 127\.0\.0\.2: a loopback address/);
    expect(cdn.hits.get('/two.bin')).toBeUndefined();

    const served = await fetch(`${registry.url}/cdn-private-ok/away/two.bin`, { headers: { authorization: `Bearer ${token}`, cookie: 'session=abc' } });
    expect(served.status).toBe(200);
    expect(served.headers.get('x-cache')).toBe('MISS');
    expect(await served.text()).toBe('cdn /two.bin');
    expect(cdn.hits.get('/two.bin')).toBe(1);
    // Nothing of the client's credentials travels upstream, to the upstream or past its redirect.
    for (const seen of [upstream.headers.get('/away/two.bin')!, cdn.headers.get('/two.bin')!]) {
      expect(seen['authorization']).toBeUndefined();
      expect(seen['cookie']).toBeUndefined();
      expect(seen['proxy-authorization']).toBeUndefined();
    }
    const again = await fetch(`${registry.url}/cdn-private-ok/away/two.bin`);
    expect(again.headers.get('x-cache')).toBe('HIT');
    expect(cdn.hits.get('/two.bin')).toBe(1);
  });

  it('cuts a body that stalls longer than idleTimeout, and caches nothing of it', async () => {
    const first = await fetch(`${registry.url}/stalling/stall.bin`).then(
      async (res) => ({ status: res.status, body: await res.text() }),
      () => 'broken' as const,
    );
    // The format's timeout error (504); a body already under way could only be broken off.
    if (first !== 'broken') {
      expect(first.status).toBe(504);
      expect(first.body).toMatch(/stalled/);
    }
    const second = await fetch(`${registry.url}/stalling/stall.bin`);
    expect(second.status).toBe(200);
    expect(second.headers.get('x-cache')).toBe('MISS');
    expect(await second.text()).toBe('upstream /stall.bin');
    expect(upstream.hits.get('/stall.bin')).toBe(2);
  });

  it("fetches an npm tarball from the upstream's conventional path when its packument points at a foreign origin", async () => {
    const res = await fetch(`${registry.url}/npm-conventional/cdn-pkg/-/cdn-pkg-1.0.0.tgz`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(tarball)).toBe(true);
    expect(upstream.hits.get('/cdn-pkg/-/cdn-pkg-1.0.0.tgz')).toBe(1);
    expect(cdn.hits.get('/files/cdn-pkg-1.0.0.tgz')).toBeUndefined();
  });

  it('fetches an npm tarball from the foreign origin when that origin is allowed', async () => {
    const res = await fetch(`${registry.url}/npm-cdn/cdn-pkg/-/cdn-pkg-1.0.0.tgz`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(tarball)).toBe(true);
    expect(cdn.hits.get('/files/cdn-pkg-1.0.0.tgz')).toBe(1);
    expect(upstream.hits.get('/cdn-pkg/-/cdn-pkg-1.0.0.tgz')).toBe(1); // only the other repository's fetch
  });
});
