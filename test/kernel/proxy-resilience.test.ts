// The proxy cache against an upstream that fails on command: retries, stale copies with a
// Warning, 5xx never cached, the circuit breaker, and the counters of /-/stats.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

const plugin = path.join(repoRoot, 'examples', 'raw-format-plugin');

interface Fixture {
  server: Server;
  url: string;
  hits: Map<string, number>;
  /** Status codes to answer before answering normally, per path. */
  failures: Map<string, number[]>;
  /** When set, every request fails with this status. */
  down?: number;
}

async function fixture(): Promise<Fixture> {
  const f = { hits: new Map(), failures: new Map() } as unknown as Fixture;
  f.server = createServer((req, res) => {
    const p = req.url ?? '/';
    f.hits.set(p, (f.hits.get(p) ?? 0) + 1);
    const queued = f.failures.get(p)?.shift();
    const status = f.down ?? queued;
    if (status) {
      res.writeHead(status, { 'content-type': 'text/plain' }).end(`failure ${status}`);
      return;
    }
    const body = `content of ${p} #${f.hits.get(p)}`;
    const cacheControl = p.includes('max-age') ? { 'cache-control': 'public, max-age=600' } : {};
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), ...cacheControl }).end(body);
  });
  await new Promise<void>((resolve) => f.server.listen(0, '127.0.0.1', () => resolve()));
  f.url = `http://127.0.0.1:${(f.server.address() as AddressInfo).port}/`;
  return f;
}

describe('proxy resilience', () => {
  let upstream: Fixture;
  let registry: RunningRegistry;

  beforeAll(async () => {
    upstream = await fixture();
    registry = await startRegistry(`
plugins: ["${plugin}"]
repositories:
  retrying: { format: raw, type: proxy, upstream: "${upstream.url}", mutable: [".json"], cache: { metadataTtl: 0, retries: 2 } }
  breaking: { format: raw, type: proxy, upstream: "${upstream.url}", cache: { retries: 0, circuitBreaker: { failures: 2, openSeconds: 300 } } }
  swr: { format: raw, type: proxy, upstream: "${upstream.url}", mutable: [".json"], cache: { metadataTtl: 0, staleWhileRevalidate: 600 } }
  honoring: { format: raw, type: proxy, upstream: "${upstream.url}", mutable: [".json"], cache: { metadataTtl: 0, honorCacheControl: true } }
  overridden: { format: raw, type: proxy, upstream: "${upstream.url}" }
  aging: { format: raw, type: proxy, upstream: "${upstream.url}", cache: { contentTtl: 0 } }
  forgetful: { format: raw, type: proxy, upstream: "${upstream.url}", cache: { negativeTtl: 0, retries: 0 } }
`);
  });
  afterAll(async () => {
    await registry?.stop();
    upstream?.server.close();
  });

  it('retries a 503 and a 502 and serves the third answer', async () => {
    upstream.failures.set('/flaky.bin', [503, 502]);
    const res = await fetch(`${registry.url}/retrying/flaky.bin`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-cache')).toBe('MISS');
    expect(await res.text()).toBe('content of /flaky.bin #3');
    expect(upstream.hits.get('/flaky.bin')).toBe(3);
  });

  it('serves an expired copy marked STALE with a Warning when the upstream fails', async () => {
    const first = await fetch(`${registry.url}/retrying/index.json`);
    expect(first.headers.get('x-cache')).toBe('MISS');
    expect(await first.text()).toBe('content of /index.json #1');
    upstream.failures.set('/index.json', [500]); // a 500 is not retried (only 502/503/504 and network errors)
    const stale = await fetch(`${registry.url}/retrying/index.json`);
    expect(stale.status).toBe(200);
    expect(stale.headers.get('x-cache')).toBe('STALE');
    expect(stale.headers.get('warning')).toMatch(/^111 /);
    expect(await stale.text()).toBe('content of /index.json #1');
    const fresh = await fetch(`${registry.url}/retrying/index.json`);
    expect(fresh.headers.get('x-cache')).toBe('MISS');
    expect(await fresh.text()).toBe('content of /index.json #3');
  });

  it('answers what the upstream last said it lacks, marked STALE, while the upstream fails', async () => {
    upstream.failures.set('/absent.bin', [404, 500]);
    const missing = await fetch(`${registry.url}/forgetful/absent.bin`);
    expect(missing.status).toBe(404);
    // The negative entry has expired (negativeTtl 0): the upstream is asked, fails, and its
    // last answer stands rather than an error nobody can act on.
    const stale = await fetch(`${registry.url}/forgetful/absent.bin`);
    expect(stale.status).toBe(404);
    expect(upstream.hits.get('/absent.bin')).toBe(2);
    const stats = (await (await fetch(`${registry.url}/-/stats`)).json()) as { repositories: Record<string, { stale: number }> };
    expect(stats.repositories['forgetful']!.stale).toBe(1);
    // A path the upstream never answered for is an error while it fails.
    upstream.failures.set('/never-seen.bin', [500]);
    expect((await fetch(`${registry.url}/forgetful/never-seen.bin`)).status).toBe(502);
  });

  it('never caches a 5xx answer', async () => {
    upstream.failures.set('/later.bin', [500]);
    const failed = await fetch(`${registry.url}/retrying/later.bin`);
    expect(failed.status).toBe(502);
    const ok = await fetch(`${registry.url}/retrying/later.bin`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('content of /later.bin #2');
  });

  it('stops asking an upstream that keeps failing, and says so', async () => {
    upstream.down = 500;
    try {
      expect((await fetch(`${registry.url}/breaking/a.bin`)).status).toBe(502);
      expect((await fetch(`${registry.url}/breaking/b.bin`)).status).toBe(502);
      const asked = [...upstream.hits.values()].reduce((a, b) => a + b, 0);
      const blocked = await fetch(`${registry.url}/breaking/c.bin`);
      expect(blocked.status).toBe(502);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await blocked.text()).toContain('UPSTREAM_BLOCKED');
      expect([...upstream.hits.values()].reduce((a, b) => a + b, 0)).toBe(asked);
      const health = (await (await fetch(`${registry.url}/-/health`)).json()) as { upstreams: Record<string, string> };
      expect(health.upstreams).toMatchObject({ retrying: 'closed', breaking: 'open', swr: 'closed' });
      const status = await runCli(['status', '--url', registry.url]);
      expect(status.code).toBe(1);
      expect(status.stdout).toMatch(/breaking +upstream open after 2 failures \(next probe /);
      expect(status.stdout).toMatch(/retrying +upstream ok/);
      const json = JSON.parse((await runCli(['status', '--url', registry.url, '--json'])).stdout) as { proxies: Record<string, { breaker: { state: string } }> };
      expect(json.proxies['breaking']!.breaker.state).toBe('open');
    } finally {
      upstream.down = undefined;
    }
  });

  it('answers expired metadata at once and revalidates it behind (stale-while-revalidate)', async () => {
    expect(await (await fetch(`${registry.url}/swr/list.json`)).text()).toBe('content of /list.json #1');
    const quick = await fetch(`${registry.url}/swr/list.json`);
    expect(quick.headers.get('x-cache')).toBe('HIT');
    expect(await quick.text()).toBe('content of /list.json #1');
    for (let i = 0; i < 50 && (upstream.hits.get('/list.json') ?? 0) < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(upstream.hits.get('/list.json')).toBe(2);
    await new Promise((r) => setTimeout(r, 50));
    expect(await (await fetch(`${registry.url}/swr/list.json`)).text()).toBe('content of /list.json #2');
  });

  it("takes a metadata TTL from the upstream's Cache-Control when asked to", async () => {
    expect((await fetch(`${registry.url}/honoring/max-age.json`)).headers.get('x-cache')).toBe('MISS');
    expect((await fetch(`${registry.url}/honoring/max-age.json`)).headers.get('x-cache')).toBe('HIT');
    expect(upstream.hits.get('/max-age.json')).toBe(1);
    expect((await fetch(`${registry.url}/honoring/plain.json`)).headers.get('x-cache')).toBe('MISS');
    expect((await fetch(`${registry.url}/honoring/plain.json`)).headers.get('x-cache')).toBe('MISS');
    expect(upstream.hits.get('/plain.json')).toBe(2);
  });

  it('applies per-artifact TTL overrides set with the CLI, and a repository content TTL', async () => {
    const set = await runCli(['cache', 'ttl', 'set', 'overridden', 'live/*', '0', '--config', registry.configFile]);
    expect(set.code, set.stderr).toBe(0);
    const listed = await runCli(['cache', 'ttl', 'list', '--config', registry.configFile]);
    expect(listed.stdout).toContain('overridden\tlive/*\t0');
    expect((await runCli(['cache', 'ttl', 'set', 'nope', 'x', '1', '--config', registry.configFile])).code).not.toBe(0);
    const states = async (p: string) => [
      (await fetch(`${registry.url}/${p}`)).headers.get('x-cache'),
      (await fetch(`${registry.url}/${p}`)).headers.get('x-cache'),
    ];
    expect(await states('overridden/live/feed.bin')).toEqual(['MISS', 'MISS']);
    expect(await states('overridden/fixed/v1.bin')).toEqual(['MISS', 'HIT']);
    expect(await states('aging/any.bin')).toEqual(['MISS', 'MISS']);
    expect((await runCli(['cache', 'ttl', 'unset', 'overridden', 'live/*', '--config', registry.configFile])).code).toBe(0);
  });

  it('sets TTL overrides through the admin API, for admins only', async () => {
    const added = await runCli(['user', 'add', 'root', '--password', 'root-password-1', '--roles', 'admin', '--config', registry.configFile]);
    expect(added.code, added.stderr).toBe(0);
    const adminToken = (await runCli(['token', 'create', '--user', 'root', '--config', registry.configFile])).stdout.trim().split('\n').pop()!;
    const plainToken = (await runCli(['token', 'create', '--user', 'root', '--read-only', '--config', registry.configFile])).stdout.trim().split('\n').pop()!;
    const body = JSON.stringify({ pattern: 'api/*', seconds: 0 });
    expect((await fetch(`${registry.url}/-/admin/ttl/overridden`, { method: 'PUT', body })).status).toBe(401);
    expect((await fetch(`${registry.url}/-/admin/ttl/overridden`, { method: 'PUT', body, headers: { authorization: `Bearer ${plainToken}` } })).status).toBe(403);
    const admin = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
    expect((await fetch(`${registry.url}/-/admin/ttl/nope`, { method: 'PUT', body, headers: admin })).status).toBe(404);
    expect((await fetch(`${registry.url}/-/admin/ttl/overridden`, { method: 'PUT', body: '{"pattern":"x"}', headers: admin })).status).toBe(400);
    expect((await fetch(`${registry.url}/-/admin/ttl/overridden`, { method: 'PUT', body, headers: admin })).status).toBe(200);
    const listed = (await (await fetch(`${registry.url}/-/admin/ttl?repository=overridden`, { headers: admin })).json()) as { overrides: unknown[] };
    expect(listed.overrides).toEqual([{ repository: 'overridden', pattern: 'api/*', seconds: 0 }]);
    // In force at once on this server: the override's 0 s TTL makes every request a MISS.
    const first = await fetch(`${registry.url}/overridden/api/a.bin`);
    expect(first.headers.get('x-cache')).toBe('MISS');
    expect((await fetch(`${registry.url}/overridden/api/a.bin`)).headers.get('x-cache')).toBe('MISS');
    expect((await fetch(`${registry.url}/-/admin/ttl/overridden?pattern=${encodeURIComponent('api/*')}`, { method: 'DELETE', headers: admin })).status).toBe(200);
  });

  it('counts hits, misses, stale answers and upstream requests per repository', async () => {
    expect((await fetch(`${registry.url}/retrying/flaky.bin`)).headers.get('x-cache')).toBe('HIT');
    const stats = (await (await fetch(`${registry.url}/-/stats`)).json()) as { repositories: Record<string, Record<string, unknown>> };
    // flaky.bin: 3 upstream requests, a MISS, later a HIT; index.json: MISS, STALE, MISS;
    // later.bin: a 502 (not counted as served), then a MISS.
    expect(stats.repositories['retrying']).toMatchObject({ hits: 1, misses: 4, stale: 1, upstreamRequests: 8, upstreamErrors: 2 });
    expect(stats.repositories['breaking']).toMatchObject({ upstreamRequests: 2, upstreamErrors: 2, breaker: { state: 'open', consecutiveFailures: 2 } });
  });
});
