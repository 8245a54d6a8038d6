// Renderings past the derived memory kept on disk (server.derivedDiskSize), in a running
// server: with a memory far smaller than what is read, a second pass over a proxy's
// packuments (full and abbreviated) renders nothing and reads every answer back from a file,
// byte for byte the first pass's; the folder is the process's own and goes at stop.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

const ABBREVIATED = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';
const PACKAGES = 24;

interface Stats {
  derived: { renders: number; disk?: { entries: number; writes: number; reads: number; failures: number } };
}

/** Folders named derived-* anywhere under `dir`. */
function derivedFolders(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isDirectory() && entry.name.startsWith('derived-')) found.push(path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name));
  }
  return found;
}

describe('npm packuments read back from the derived disk', () => {
  let registry: RunningRegistry;
  let upstream: Server;
  const base = () => `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

  beforeAll(async () => {
    // Every other package has a large document (some 30 KB: over an eighth of the memory of 32 KB, so
    // straight to disk), the rest small ones (some 1 KB: kept in memory until pushed out).
    upstream = createServer((req, res) => {
      const m = /^\/disk-pkg-(\d+)$/.exec(req.url ?? '');
      if (!m) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      const name = `disk-pkg-${m[1]}`;
      const count = Number(m[1]) % 2 === 0 ? 120 : 3;
      const versions = Object.fromEntries(
        Array.from({ length: count }, (_, i) => `1.0.${i}`).map((v) => [
          v,
          { name, version: v, description: `version ${v} of ${name}`, dist: { tarball: `${base()}/${name}/-/${name}-${v}.tgz`, shasum: '0'.repeat(40), integrity: `sha512-${Buffer.alloc(64).toString('base64')}` } },
        ]),
      );
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name, 'dist-tags': { latest: `1.0.${count - 1}` }, versions }));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
    registry = await startRegistry(`
server: { derivedCacheSize: 32kb, derivedDiskSize: 16mb }
auth: { anonymousRead: true }
repositories:
  npm-proxy: { format: npm, type: proxy, upstream: "${base()}/", cache: { metadataTtl: 3600 } }
  npm-local: { format: npm, type: hosted }
  npm: { format: npm, type: group, members: [npm-local, npm-proxy] }
`);
  });
  afterAll(async () => {
    await registry?.stop();
    await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
  });

  const stats = async () => (await (await fetch(`${registry.url}/-/stats`)).json()) as Stats;
  /** Every package's full and abbreviated document through the group, with a token-less client and a distinct query, so no replayed answer stands in. */
  const pass = async (round: number) => {
    const bodies: Buffer[] = [];
    for (let n = 0; n < PACKAGES; n++) {
      for (const accept of ['application/json', ABBREVIATED]) {
        const response = await fetch(`${registry.url}/npm/disk-pkg-${n}?round=${round}`, { headers: { accept } });
        expect(response.status).toBe(200);
        bodies.push(Buffer.from(await response.arrayBuffer()));
      }
    }
    return bodies;
  };

  it('renders each answer once, then reads it back from a file, byte for byte', async () => {
    const first = await pass(1);
    const afterFirst = await stats();
    expect(afterFirst.derived.disk).toBeDefined();
    // The large answers went straight to disk, and small ones the memory let go after them.
    expect(afterFirst.derived.disk!.writes).toBeGreaterThan(PACKAGES);
    for (const round of [2, 3]) {
      const again = await pass(round);
      expect(again.map((body) => body.toString('utf8'))).toEqual(first.map((body) => body.toString('utf8')));
    }
    const afterMore = await stats();
    expect(afterMore.derived.renders).toBe(afterFirst.derived.renders);
    expect(afterMore.derived.disk!.reads).toBeGreaterThan(2 * PACKAGES);
    expect(afterMore.derived.disk!.failures).toBe(0);
    // Documents still what the upstream said, tarballs rewritten to this registry.
    const document = JSON.parse(first[0]!.toString('utf8')) as { versions: Record<string, { dist: { tarball: string } }> };
    expect(Object.keys(document.versions)).toHaveLength(120);
    expect(document.versions['1.0.0']!.dist.tarball).toBe(`${registry.url}/npm/disk-pkg-0/-/disk-pkg-0-1.0.0.tgz`);
  });

  it('keeps its files in a folder of its own, removed at stop', async () => {
    const folders = derivedFolders(registry.dir);
    expect(folders).toHaveLength(1);
    expect(readdirSync(folders[0]!).length).toBe((await stats()).derived.disk!.entries);
    await registry.stop();
    expect(derivedFolders(registry.dir)).toEqual([]);
  });
});
