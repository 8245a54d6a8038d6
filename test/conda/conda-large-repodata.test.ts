// A conda proxy (and a group over it) in front of a channel whose repodata.json is larger
// than a third of the server's metadata memory: the document is never held in memory (a
// proxy streams it, a group merges it member by member, a file is checked against its
// record by a scan), so it is served where a whole parse would be refused with a 503.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleSolve } from '@conda-org/rattler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCondaPackage, condaPackageBytes, type BuiltPackage } from '../../plugins/conda/src/testing/package-builder.js';
import { createUserAndToken, runCli, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const RECORDS = 100_000;

type Repodata = { info: Record<string, unknown>; packages: Record<string, { name: string }>; 'packages.conda': Record<string, { name: string; sha256: string }>; removed: string[]; repodata_version: number };

describe('conda proxy and group over a repodata.json larger than the metadata memory allows to parse', () => {
  let upstream: Server;
  let node: RunningRegistry;
  let repodataBytes: Buffer;
  let good: { filename: string; bytes: Buffer };
  let liar: { filename: string; bytes: Buffer };
  let hosted: BuiltPackage;

  beforeAll(async () => {
    good = await condaPackageBytes({ name: 'rc-good', version: '1.0' });
    liar = await condaPackageBytes({ name: 'rc-liar', version: '1.0' });
    const record = (name: string, version: string, size: number, digest: string, depends = ['python >=3.8', 'numpy >=1.21,<2', `rc-bulk-dep-${version}`]) =>
      JSON.stringify({ name, version, build: 'pyh_0', build_number: 0, depends, license: 'BSD-3-Clause', noarch: 'generic', subdir: 'noarch', timestamp: 1700000000000, md5: '0'.repeat(32), sha256: digest, size });
    // ~100k records in ~40 MB, written as text (no object of it all is built).
    const rows: string[] = [];
    for (let i = 0; i < RECORDS; i++) rows.push(`"rc-bulk-${i % 5000}-1.${i}-pyh_0.conda":${record(`rc-bulk-${i % 5000}`, `1.${i}`, 1000 + i, sha256(Buffer.from(String(i))))}`);
    rows.push(`"${good.filename}":${record('rc-good', '1.0', good.bytes.length, sha256(good.bytes), [])}`);
    rows.push(`"${liar.filename}":${record('rc-liar', '1.0', liar.bytes.length, sha256(Buffer.from('other bytes')), [])}`);
    repodataBytes = Buffer.from(`{"info":{"subdir":"noarch","base_url":"../files/"},"repodata_version":2,"packages":{},"packages.conda":{${rows.join(',')}},"removed":["rc-bulk-0-0.1-pyh_0.conda"]}`);
    upstream = createServer((req, res) => {
      const files: Record<string, Buffer> = {
        '/channel/noarch/repodata.json': repodataBytes,
        '/channel/linux-64/repodata.json': Buffer.from('{"info":{"subdir":"linux-64"},"packages":{},"packages.conda":{},"removed":[],"repodata_version":1}'),
        [`/channel/files/${good.filename}`]: good.bytes,
        [`/channel/files/${liar.filename}`]: liar.bytes,
      };
      const body = files[req.url ?? ''];
      if (!body) {
        res.statusCode = 404;
        res.end();
        return;
      }
      res.setHeader('content-length', body.length);
      res.end(body);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/channel/`;
    node = await startRegistry(`server: { metadataMemory: 48mb }
repositories:
  conda-local: { format: conda, type: hosted }
  conda-proxy: { format: conda, type: proxy, upstream: "${upstreamUrl}", cache: { retries: 0 } }
  conda: { format: conda, type: group, members: [conda-local, conda-proxy] }
`);
    const token = await createUserAndToken(node.configFile, 'builder');
    // A name the upstream also lists: the group serves it from the hosted member alone.
    hosted = await buildCondaPackage(tempDir('rc-conda-large-'), { name: 'rc-bulk-7', version: '9.0', format: 'conda' });
    const uploaded = await runCli(['conda', 'upload', hosted.path, '--repository', 'conda-local', '--token', token, '--registry', node.url]);
    expect(uploaded.code, uploaded.stdout + uploaded.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  it('the proxy serves the repodata (v1, files next to it), and the group merges it with the hosted member per name', async () => {
    expect(repodataBytes.length).toBeGreaterThan((48 * 1024 * 1024) / 3);
    const answer = await fetch(`${node.url}/conda-proxy/noarch/repodata.json`);
    expect(answer.status, await answer.clone().text().then((t) => t.slice(0, 300))).toBe(200);
    const proxied = (await answer.json()) as Repodata;
    expect(proxied.info).toEqual({ subdir: 'noarch' });
    expect(proxied.repodata_version).toBe(1);
    expect(Object.keys(proxied['packages.conda'])).toHaveLength(RECORDS + 2);
    expect(proxied['packages.conda'][good.filename]?.sha256).toBe(sha256(good.bytes));
    expect(proxied.removed).toEqual(['rc-bulk-0-0.1-pyh_0.conda']);
    // Streamed, with an ETag of the upstream revision: a revalidation is a 304 without a read.
    const etag = answer.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    expect((await fetch(`${node.url}/conda-proxy/noarch/repodata.json`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    // Too large to compress for each revision: clients fall back to repodata.json (rattler
    // takes .bz2 when there is no .zst, and waited minutes for it to be made).
    expect((await fetch(`${node.url}/conda-proxy/noarch/repodata.json.zst`)).status).toBe(404);
    expect((await fetch(`${node.url}/conda-proxy/noarch/repodata.json.bz2`)).status).toBe(404);
    expect((await fetch(`${node.url}/conda/noarch/repodata.json.bz2`)).status).toBe(404);

    const merged = (await (await fetch(`${node.url}/conda/noarch/repodata.json`)).json()) as Repodata;
    const bulk7 = Object.entries(merged['packages.conda']).filter(([, r]) => r.name === 'rc-bulk-7');
    expect(bulk7.map(([f]) => f)).toEqual([hosted.filename]);
    expect(Object.keys(merged['packages.conda'])).toHaveLength(RECORDS + 2 - RECORDS / 5000 + 1);
    expect(merged['packages.conda'][good.filename]).toBeDefined();
    const again = await fetch(`${node.url}/conda/noarch/repodata.json`);
    const groupEtag = again.headers.get('etag')!;
    await again.body?.cancel();
    expect(groupEtag).toMatch(/^"[0-9a-f]{64}"$/);
    expect(groupEtag).not.toBe(etag);
    expect((await fetch(`${node.url}/conda/noarch/repodata.json`, { headers: { 'if-none-match': groupEtag } })).status).toBe(304);
  });

  it('rattler solves through the proxy and the group; the solved file downloads verified; a file whose bytes disagree is refused', async () => {
    for (const channel of [`${node.url}/conda-proxy`, `${node.url}/conda`]) {
      const solved = await simpleSolve(['rc-good'], [channel], ['linux-64', 'noarch'], []);
      const found = solved.map((p) => ({ name: p.packageName, url: p.url, sha256: p.sha256 }));
      for (const p of solved) p.free();
      expect(found.map((p) => p.name)).toEqual(['rc-good']);
      expect(found[0]!.url.startsWith(channel)).toBe(true);
      const file = await fetch(found[0]!.url);
      expect(file.status).toBe(200);
      expect(sha256(Buffer.from(await file.arrayBuffer()))).toBe(found[0]!.sha256);
    }
    const lied = await fetch(`${node.url}/conda-proxy/noarch/${liar.filename}`);
    await lied.arrayBuffer().catch(() => undefined);
    expect(lied.status).toBe(502);
    expect((await fetch(`${node.url}/conda-proxy/noarch/rc-absent-1.0-pyh_0.conda`)).status).toBe(404);
  }, 120_000);
});
