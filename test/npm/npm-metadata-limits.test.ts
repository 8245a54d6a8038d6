// One hostile upstream document must not take the server's memory or its event loop: an
// npm packument over the format's limit (64 MiB; a repository may set its own) is a 502
// and never cached, a big one that is allowed is parsed in slices that give the event loop
// back, and documents together never take more than server.metadataMemory: past it a
// request waits, then gets a 503 in npm's error shape, while the server keeps answering.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

const MiB = 1024 * 1024;

/** A packument of `versions` versions, each padded with `pad` bytes of description. */
function packument(name: string, versions: number, pad: number): Buffer {
  const doc: { name: string; 'dist-tags': Record<string, string>; versions: Record<string, unknown> } = { name, 'dist-tags': { latest: '1.0.0' }, versions: {} };
  const description = 'd'.repeat(pad);
  for (let v = 0; v < versions; v++) {
    const version = `1.0.${v}`;
    doc.versions[version] = {
      name,
      version,
      description,
      dependencies: { left: '^1.0.0', right: '~2.1.0' },
      dist: { tarball: `http://upstream.invalid/${name}/-/${name}-${version}.tgz`, shasum: 'a'.repeat(40), integrity: `sha512-${'A'.repeat(86)}==` },
    };
  }
  doc['dist-tags']['latest'] = '1.0.0';
  return Buffer.from(JSON.stringify(doc));
}

/** A valid packument of exactly `size` bytes: one version and a padding field. */
function padded(name: string, size: number): Buffer {
  const head = `{"name":"${name}","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"name":"${name}","version":"1.0.0","dist":{"tarball":"http://upstream.invalid/x.tgz","shasum":"${'a'.repeat(40)}"}}},"pad":"`;
  const body = Buffer.alloc(size, 0x78);
  body.write(head, 0, 'latin1');
  body.write('"}', size - 2, 'latin1');
  return body;
}

interface Upstream {
  readonly server: Server;
  readonly url: string;
  readonly hits: Map<string, number>;
}

async function upstreamOf(documents: Record<string, Buffer>): Promise<Upstream> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '/').slice(1));
    hits.set(name, (hits.get(name) ?? 0) + 1);
    const doc = documents[name];
    if (!doc) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': doc.length }).end(doc);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, hits };
}

describe('npm proxy: metadata limits, budget and a parse that yields', () => {
  let upstream: Upstream;
  let registry: RunningRegistry;
  let tight: RunningRegistry;
  const big = packument('big', 14_000, 2_800);

  beforeAll(async () => {
    upstream = await upstreamOf({
      // Over npm's default limit (64 MiB; it was 256 MiB): refused on its Content-Length.
      huge: padded('huge', 65 * MiB),
      // Over the 1 MiB a repository sets for itself.
      medium: padded('medium', 2 * MiB),
      small: padded('small', 200 * 1024),
      big,
    });
    registry = await startRegistry(`
server: { metadataMemory: 256mb }
repositories:
  npm-proxy: { format: npm, type: proxy, upstream: "${upstream.url}" }
  npm-strict: { format: npm, type: proxy, upstream: "${upstream.url}", cache: { maxMetadataSize: 1mb } }
`);
    // Room for one small document at a time, never for a 2 MiB one (counted three times).
    tight = await startRegistry(`
server: { metadataMemory: 1mb, metadataMemoryWaitSeconds: 1 }
repositories:
  npm-proxy: { format: npm, type: proxy, upstream: "${upstream.url}" }
`);
  });
  afterAll(async () => {
    await registry?.stop();
    await tight?.stop();
    await new Promise((resolve) => upstream?.server.close(resolve));
  });

  it('answers 502 for a packument over the format limit, caches nothing, and keeps serving', async () => {
    for (let attempt = 1; attempt <= 2; attempt++) {
      const answer = await fetch(`${registry.url}/npm-proxy/huge`);
      const body = (await answer.json()) as { error: string; code: string };
      expect(answer.status, JSON.stringify(body)).toBe(502);
      expect(body.code).toBe('UPSTREAM_FAILED');
      expect(body.error).toMatch(/over the 67108864 allowed/);
      // Nothing cached: the upstream is asked again.
      expect(upstream.hits.get('huge')).toBe(attempt);
    }
    expect((await fetch(`${registry.url}/-/health`)).status).toBe(200);
    expect((await fetch(`${registry.url}/npm-proxy/small`)).status).toBe(200);
  });

  it('takes the repository\'s own cache.maxMetadataSize', async () => {
    const strict = await fetch(`${registry.url}/npm-strict/medium`);
    expect(strict.status).toBe(502);
    expect(((await strict.json()) as { error: string }).error).toMatch(/over the 1048576 allowed \(cache\.maxMetadataSize\)/);
    // The format's default takes it.
    const open = await fetch(`${registry.url}/npm-proxy/medium`);
    expect(open.status).toBe(200);
    expect(((await open.json()) as { name: string }).name).toBe('medium');
  });

  it('parses a big allowed packument in slices that give the event loop back, while /-/health answers', async () => {
    expect(big.length).toBeGreaterThan(40 * MiB);
    const before = ((await (await fetch(`${registry.url}/-/stats`)).json()) as { metadataMemory: { parses: number; yields: number } }).metadataMemory;
    let pending = true;
    const health: number[] = [];
    const probe = (async () => {
      while (pending) health.push((await fetch(`${registry.url}/-/health`)).status);
    })();
    const answer = await fetch(`${registry.url}/npm-proxy/big`, { headers: { accept: 'application/vnd.npm.install-v1+json' } });
    const doc = (await answer.json()) as { versions: Record<string, { dist: { tarball: string } }> };
    pending = false;
    await probe;
    expect(answer.status).toBe(200);
    expect(Object.keys(doc.versions)).toHaveLength(14_000);
    expect(doc.versions['1.0.13999']!.dist.tarball).toBe(`${registry.url}/npm-proxy/big/-/big-1.0.13999.tgz`);
    expect(health.length).toBeGreaterThan(0);
    expect(health.every((status) => status === 200)).toBe(true);
    const after = ((await (await fetch(`${registry.url}/-/stats`)).json()) as { metadataMemory: { parses: number; yields: number; inUseBytes: number; peakBytes: number; capacityBytes: number } }).metadataMemory;
    expect(after.parses).toBe(before.parses + 1);
    // The structural proof that the parse did not hold the event loop: it gave it back.
    expect(after.yields).toBeGreaterThan(before.yields);
    expect(after.inUseBytes).toBe(0);
    expect(after.peakBytes).toBeGreaterThanOrEqual(big.length * 3);
    expect(after.capacityBytes).toBe(256 * MiB);
  });

  it('renders the full 40 MiB answer in slices that give the event loop back: byte for byte what JSON.stringify gives', async () => {
    type Stats = { derived: { renders: number; renderYields: number } };
    const before = ((await (await fetch(`${registry.url}/-/stats`)).json()) as Stats).derived;
    const answer = await fetch(`${registry.url}/npm-proxy/big`, { headers: { accept: 'application/json' } });
    const bytes = Buffer.from(await answer.arrayBuffer());
    expect(answer.status).toBe(200);
    expect(bytes.length).toBeGreaterThan(40 * MiB);
    expect(Number(answer.headers.get('content-length'))).toBe(bytes.length);
    // The kernel's rendering is JSON.stringify's text of the served document.
    const doc = JSON.parse(bytes.toString('utf8')) as { versions: Record<string, { dist: { tarball: string } }> };
    expect(bytes.equals(Buffer.from(JSON.stringify(doc)))).toBe(true);
    expect(doc.versions['1.0.13999']!.dist.tarball).toBe(`${registry.url}/npm-proxy/big/-/big-1.0.13999.tgz`);
    expect(answer.headers.get('etag')).toBe(`"${createHash('sha256').update(bytes).digest('hex')}"`);
    const after = ((await (await fetch(`${registry.url}/-/stats`)).json()) as Stats).derived;
    expect(after.renders).toBe(before.renders + 1);
    // The structural proof that the rendering did not hold the event loop: it gave it back.
    expect(after.renderYields).toBeGreaterThan(before.renderYields);
    // And a revalidation is a 304 on the same ETag.
    const again = await fetch(`${registry.url}/npm-proxy/big`, { headers: { accept: 'application/json', 'if-none-match': answer.headers.get('etag')! } });
    expect(again.status).toBe(304);
  });

  it('refuses with a 503 in npm\'s shape a document the metadata memory cannot hold, and keeps serving', async () => {
    const refused = await fetch(`${tight.url}/npm-proxy/medium`);
    const body = (await refused.json()) as { error: string; code: string };
    expect(refused.status, JSON.stringify(body)).toBe(503);
    expect(body.code).toBe('METADATA_MEMORY_BUSY');
    expect(body.error).toMatch(/server\.metadataMemory/);
    expect((await fetch(`${tight.url}/-/health`)).status).toBe(200);
    // A document that fits is still served.
    expect((await fetch(`${tight.url}/npm-proxy/small`)).status).toBe(200);
    const stats = ((await (await fetch(`${tight.url}/-/stats`)).json()) as { metadataMemory: { refused: number; inUseBytes: number } }).metadataMemory;
    expect(stats.refused).toBe(1);
    expect(stats.inUseBytes).toBe(0);
  });
});
