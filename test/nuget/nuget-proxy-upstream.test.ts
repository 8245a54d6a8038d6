// A NuGet proxy against an upstream shaped like nuget.org: registration blobs gzip-encoded,
// absolute URLs on the upstream's host, pages linked rather than inlined, and a `packageHash`
// per version. The upstream is a small fixture server: a feed that lies about a package's hash
// is a fault no real feed here can be made to commit.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { storedZip } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

const nupkg = (id: string, version: string) => storedZip([[`${id}.nuspec`, Buffer.from(`<package><metadata><id>${id}</id><version>${version}</version><authors>a</authors><description>d</description></metadata></package>`)]]);
const good = nupkg('Rc.Good', '1.0.0');
const lying = nupkg('Rc.Lying', '1.0.0');
const sha512 = (bytes: Buffer) => createHash('sha512').update(bytes).digest('base64');

describe('NuGet proxy of a nuget.org-shaped upstream', () => {
  let upstream: Server;
  let base: string;
  let node: RunningRegistry;
  const requests: string[] = [];

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      requests.push(req.url!);
      const json = (value: unknown, gzip = false) => {
        const body = Buffer.from(JSON.stringify(value));
        res.writeHead(200, { 'content-type': 'application/json', ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
        res.end(gzip ? gzipSync(body) : body);
      };
      const leaf = (id: string, hash: string) => ({ '@id': `${base}/reg/${id.toLowerCase()}/1.0.0.json`, packageContent: `${base}/flat/${id.toLowerCase()}/1.0.0/${id.toLowerCase()}.1.0.0.nupkg`, catalogEntry: { '@id': `${base}/catalog/x.json`, id, version: '1.0.0', listed: true, packageHash: hash, packageHashAlgorithm: 'SHA512', deprecation: { reasons: ['Legacy'], message: 'use another' } } });
      const url = req.url!;
      if (url === '/v3/index.json') return json({ version: '3.0.0', resources: [{ '@id': `${base}/flat/`, '@type': 'PackageBaseAddress/3.0.0' }, { '@id': `${base}/reg/`, '@type': 'RegistrationsBaseUrl/3.6.0' }] });
      const flat = /^\/flat\/(rc\.good|rc\.lying)\/index\.json$/.exec(url);
      if (flat) return json({ versions: ['1.0.0'] });
      if (url === '/reg/rc.good/index.json') return json({ count: 1, items: [{ '@id': `${base}/reg/rc.good/page/1.0.0/1.0.0.json`, count: 1, lower: '1.0.0', upper: '1.0.0' }] }, true);
      if (url === '/reg/rc.good/page/1.0.0/1.0.0.json') return json({ count: 1, items: [leaf('Rc.Good', sha512(good))] }, true);
      if (url === '/reg/rc.lying/index.json') return json({ count: 1, items: [{ '@id': `${base}/reg/rc.lying/index.json#page`, count: 1, lower: '1.0.0', upper: '1.0.0', items: [leaf('Rc.Lying', sha512(good))] }] }, true);
      const file = /^\/flat\/(rc\.good|rc\.lying)\/1\.0\.0\/.*\.nupkg$/.exec(url);
      if (file) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        return res.end(file[1] === 'rc.good' ? good : lying);
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    node = await startRegistry(`repositories:\n  nuget-proxy: { format: nuget, type: proxy, upstream: "${base}/v3/index.json" }\n`);
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  it('reads gzip-encoded registrations and linked pages, and serves them with its own URLs only', async () => {
    const response = await fetch(`${node.url}/nuget-proxy/v3/registration/rc.good/index.json`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).not.toContain(base);
    const registration = JSON.parse(text) as { items: { items: { catalogEntry: { version: string; deprecation: unknown; packageContent: string } }[] }[] };
    const entry = registration.items[0]!.items[0]!.catalogEntry;
    expect(entry.version).toBe('1.0.0');
    expect(entry.deprecation).toEqual({ reasons: ['Legacy'], message: 'use another' });
    expect(entry.packageContent).toBe(`${node.url}/nuget-proxy/v3-flatcontainer/rc.good/1.0.0/rc.good.1.0.0.nupkg`);
  });

  it('checks a package against the SHA-512 the upstream publishes: a match is cached, a mismatch is a 502 and not cached', async () => {
    const fetched = await fetch(`${node.url}/nuget-proxy/v3-flatcontainer/rc.good/1.0.0/rc.good.1.0.0.nupkg`);
    expect(fetched.status).toBe(200);
    expect(Buffer.from(await fetched.arrayBuffer()).equals(good)).toBe(true);
    const refused = await fetch(`${node.url}/nuget-proxy/v3-flatcontainer/rc.lying/1.0.0/rc.lying.1.0.0.nupkg`);
    expect(refused.status).toBe(502);
    await refused.arrayBuffer();
    const before = requests.filter((r) => r.endsWith('rc.lying.1.0.0.nupkg')).length;
    const again = await fetch(`${node.url}/nuget-proxy/v3-flatcontainer/rc.lying/1.0.0/rc.lying.1.0.0.nupkg`);
    expect(again.status).toBe(502);
    await again.arrayBuffer();
    expect(requests.filter((r) => r.endsWith('rc.lying.1.0.0.nupkg')).length).toBe(before + 1);
  });

  it('asks the upstream only for versions its flat container lists', async () => {
    const before = requests.length;
    const missing = await fetch(`${node.url}/nuget-proxy/v3-flatcontainer/rc.good/2.0.0/rc.good.2.0.0.nupkg`);
    expect(missing.status).toBe(404);
    await missing.arrayBuffer();
    expect(requests.slice(before).some((r) => r.includes('2.0.0'))).toBe(false);
  });
});
