// The mirror job's failures that need no registry: a source that never answers (the
// per-download timeout, retried), lines that are not package URLs, a spec that matches
// nothing, and a target that already has the file name with other bytes. One small server
// plays the source channel and the target's repodata (nothing reaches an upload here).
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirror } from './mirror.js';

describe('conda mirror job', () => {
  let server: http.Server;
  let base: string;
  const sockets = new Set<Socket>();
  const hits = new Map<string, number>();
  const sha = 'a'.repeat(64);

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      hits.set(path, (hits.get(path) ?? 0) + 1);
      if (path === '/source/noarch/repodata.json') {
        return void res.end(JSON.stringify({ info: { subdir: 'noarch' }, packages: {}, 'packages.conda': { 'slow-1.0-0.conda': { name: 'slow', version: '1.0', build: '0', sha256: sha, size: 10 }, 'taken-1.0-0.conda': { name: 'taken', version: '1.0', build: '0', sha256: sha, size: 10 } } }));
      }
      if (path === '/evil/noarch/repodata.json') return void res.end(JSON.stringify({ info: { subdir: 'noarch', base_url: 'file:///etc/' }, packages: {}, 'packages.conda': { 'x-1.0-0.conda': { name: 'x', version: '1.0', build: '0', sha256: sha } } }));
      if (path === '/target/noarch/repodata.json') return void res.end(JSON.stringify({ info: { subdir: 'noarch' }, packages: {}, 'packages.conda': { 'taken-1.0-0.conda': { name: 'taken', version: '1.0', build: '0', sha256: 'b'.repeat(64), size: 10 } } }));
      if (path === '/source/noarch/slow-1.0-0.conda') return; // never answers
      res.writeHead(404).end();
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('gives up on a download after --timeout, retried with backoff, and reports every other failure without stopping', async () => {
    const summary = await mirror({
      repositoryUrl: `${base}target/`,
      channel: `${base}source`,
      subdirs: ['noarch'],
      specs: ['slow', 'taken', 'absent >=1'],
      urls: ['not a url', `${base}source/noarch/README.md`, `${base}source/NoArch/x-1.0-0.conda`, `${base}source/noarch/x-1.0-0.conda#sha256=abc`],
      timeoutMs: 1000,
      retries: 2,
      backoffMs: 10,
    });
    expect(hits.get('/source/noarch/slow-1.0-0.conda')).toBe(3);
    expect(summary).toMatchObject({ total: 7, mirrored: 0, skipped: 0, failed: 7 });
    // Two for the file that never answers (more if the loaded machine let a repodata request time out too).
    expect(summary.retried).toBeGreaterThanOrEqual(2);
    const reasons = Object.fromEntries(summary.failures.map((f) => [f.source, [f.reason, f.attempts]]));
    expect(reasons).toEqual({
      [`${base}source/noarch/slow-1.0-0.conda`]: ['timed out after 1000 ms', 3],
      [`${base}source/noarch/taken-1.0-0.conda`]: [`the target already has noarch/taken-1.0-0.conda with another sha256 (${'b'.repeat(64)}); delete it there to mirror this one`, 1],
      'absent >=1': [`no package of noarch in ${base}source/ matches`, 1],
      'not a url': ['not a URL', 1],
      [`${base}source/noarch/README.md`]: ['"README.md" is not a conda package file name (<name>-<version>-<build>.conda or .tar.bz2)', 1],
      [`${base}source/NoArch/x-1.0-0.conda`]: ['"NoArch" (the folder the file is in) is not a conda subdir', 1],
      [`${base}source/noarch/x-1.0-0.conda#sha256=abc`]: ['#sha256=abc is not a hash (#sha256=<64 hex>, #md5=<32 hex> or a bare one)', 1],
    });
  });

  it("fetches files only over http(s), whatever a source's info.base_url says", async () => {
    const summary = await mirror({ repositoryUrl: `${base}target/`, channel: `${base}evil/`, subdirs: ['noarch'], specs: ['x'] });
    expect(summary.failures).toEqual([
      { source: `${base}evil/noarch/repodata.json`, reason: 'info.base_url "file:///etc/" is not an http(s) URL', attempts: 1 },
      { source: 'x', reason: `no package of noarch in ${base}evil/ matches`, attempts: 1 },
    ]);
  });
});
