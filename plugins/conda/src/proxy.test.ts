import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestHost, type TestHost } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { condaPackageBytes } from './testing/package-builder.js';

const plugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

// An upstream channel of its own making (a fixture server): repodata v2 whose base_url puts
// the files elsewhere on the upstream, one file whose bytes disagree with its record, and
// one record without any digest.
describe('conda proxy of a channel', () => {
  let upstream: Server;
  let upstreamUrl: string;
  let host: TestHost;
  const asked: string[] = [];
  let good: { filename: string; bytes: Buffer };
  let liar: { filename: string; bytes: Buffer };
  let unhashed: { filename: string; bytes: Buffer };
  let upper: { filename: string; bytes: Buffer };

  beforeAll(async () => {
    good = await condaPackageBytes({ name: 'rc-good', version: '1.0' });
    liar = await condaPackageBytes({ name: 'rc-liar', version: '1.0' });
    unhashed = await condaPackageBytes({ name: 'rc-unhashed', version: '1.0', format: 'tar.bz2' });
    // A name with capitals, as channels built before conda-build refused them still list.
    upper = await condaPackageBytes({ name: 'RC-Upper', version: '1.0' });
    const record = (p: { filename: string; bytes: Buffer }, name: string, digest?: string) => ({ name, version: '1.0', build: 'pyh_0', build_number: 0, depends: [], subdir: 'noarch', noarch: 'generic', size: p.bytes.length, ...(digest ? { sha256: digest } : {}) });
    const repodata = {
      info: { subdir: 'noarch', base_url: '../../files/' },
      repodata_version: 2,
      packages: { [unhashed.filename]: record(unhashed, 'rc-unhashed'), '../../etc/passwd-1-0.tar.bz2': { name: 'x' } },
      'packages.conda': { [good.filename]: record(good, 'rc-good', sha256(good.bytes)), [liar.filename]: record(liar, 'rc-liar', sha256(Buffer.from('other bytes'))), [upper.filename]: record(upper, 'RC-Upper', sha256(upper.bytes)) },
      removed: [],
    };
    upstream = createServer((req, res) => {
      asked.push(req.url ?? '');
      const files: Record<string, Buffer> = { [`/files/${upper.filename}`]: upper.bytes, [`/files/${good.filename}`]: good.bytes, [`/files/${liar.filename}`]: liar.bytes, [`/files/${unhashed.filename}`]: unhashed.bytes };
      const broken: Record<string, string> = {
        '/channel/linux-64/repodata.json': '{"info":{},"packages":{"rc-a-1.0-0.tar.bz2":{"name":"rc-a",}}}',
        '/channel/osx-64/repodata.json': '{"info":{},"packages":{"rc-a-1.0-0.tar.bz2":{"name":"rc-a"}',
      };
      if (req.url && broken[req.url]) res.end(broken[req.url]);
      else if (req.url === '/channel/noarch/repodata.json') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(repodata));
      } else if (req.url && files[req.url]) res.end(files[req.url]);
      else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/channel/`;
    host = await createTestHost({ plugins: [plugin], repositories: { forge: { format: 'conda', type: 'proxy', upstream: upstreamUrl, cache: { retries: 0 } } } });
  }, 60_000);

  afterAll(async () => {
    await host?.stop();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  it('serves the upstream repodata as v1 with files next to it, leaving out unsafe names', async () => {
    const served = (await (await host.fetch('/forge/noarch/repodata.json')).json()) as Record<string, unknown> & { info: Record<string, unknown>; packages: Record<string, unknown> };
    expect(served.info).toEqual({ subdir: 'noarch' });
    expect(served['repodata_version']).toBe(1);
    expect(Object.keys(served.packages)).toEqual([unhashed.filename]);
    expect(Object.keys(served['packages.conda'] as object).sort()).toEqual([good.filename, liar.filename, upper.filename].sort());
  });

  // conda installs such a package by its name as written; it was left out of the repodata.
  it('serves a package whose name has capitals, and its file', async () => {
    const served = (await (await host.fetch('/forge/noarch/repodata.json')).json()) as { 'packages.conda': Record<string, { name: string }> };
    expect(served['packages.conda'][upper.filename]?.name).toBe('RC-Upper');
    const file = await host.fetch(`/forge/noarch/${upper.filename}`);
    expect(file.status).toBe(200);
    expect(Buffer.from(await file.arrayBuffer()).equals(upper.bytes)).toBe(true);
  });

  it('answers an upstream repodata that is not valid JSON with a 502 before anything is streamed', async () => {
    for (const subdir of ['linux-64', 'osx-64']) {
      const answer = await host.fetch(`/forge/${subdir}/repodata.json`);
      expect(answer.status, subdir).toBe(502);
      expect(await answer.text()).toMatch(/not (a )?valid/);
    }
  });

  it("fetches a file from the upstream's base_url, verified, then serves it from the cache", async () => {
    const first = await host.fetch(`/forge/noarch/${good.filename}`);
    expect(first.status).toBe(200);
    expect(Buffer.from(await first.arrayBuffer()).equals(good.bytes)).toBe(true);
    expect(asked).toContain(`/files/${good.filename}`);
    const second = await host.fetch(`/forge/noarch/${good.filename}`);
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect(sha256(Buffer.from(await second.arrayBuffer()))).toBe(sha256(good.bytes));
  });

  it('refuses a file whose bytes disagree with the repodata, and one announced without a digest; nothing is cached', async () => {
    for (let i = 0; i < 2; i++) {
      const lied = await host.fetch(`/forge/noarch/${liar.filename}`);
      await lied.arrayBuffer().catch(() => undefined);
      // Small content is verified before the answer starts: a 502, never the wrong bytes.
      expect(lied.status).toBe(502);
    }
    expect(asked.filter((u) => u === `/files/${liar.filename}`)).toHaveLength(2);
    expect((await host.stored()).assets.some((a) => a.includes(liar.filename))).toBe(false);
    const bare = await host.fetch(`/forge/noarch/${unhashed.filename}`);
    expect(bare.status).toBe(502);
    expect(await bare.text()).toMatch(/no digest/);
    expect((await host.fetch('/forge/noarch/rc-absent-1.0-pyh_0.conda')).status).toBe(404);
  });
});
