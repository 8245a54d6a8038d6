// A proxy reads the upstream's abbreviated ("corgi") document for an installer's read, as an
// install straight from the upstream does, unless it has the full one cached already (npm 11
// reads full documents first); the full one only for a full read. The real pnpm and npm
// clients install through the group while a counting proxy in front of the upstream (a
// second registry-core instance) records what was asked, with which Accept. With the
// upstream gone, an install is served from a cached full document; a full read is never
// answered with the abbreviated one.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countingProxy } from '../helpers/counting-proxy.js';
import { NpmClient, makePackage, makeProject } from '../helpers/npm-client.js';
import { createUserAndToken, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

const ABBREVIATED = 'application/vnd.npm.install-v1+json';

describe('npm proxy: the abbreviated document for installs', () => {
  let upstream: RunningRegistry;
  let counter: Awaited<ReturnType<typeof countingProxy>>;
  let registry: RunningRegistry;

  beforeAll(async () => {
    upstream = await startRegistry(`
auth: { anonymousRead: true }
repositories:
  public: { format: npm, type: hosted }
`);
    const client = new NpmClient(`${upstream.url}/public/`, await createUserAndToken(upstream.configFile, 'publisher'));
    // A long readme: the full document is several times the abbreviated one.
    const readme = `# corgi\n\n${'A line of documentation that installers never read.\n'.repeat(400)}`;
    for (const pkg of [
      { name: 'corgi-leaf', version: '1.0.0', description: 'leaf' },
      { name: 'corgi-leaf', version: '1.1.0', description: 'leaf' },
      { name: 'corgi-root', version: '2.0.0', description: 'root', dependencies: { 'corgi-leaf': '^1.0.0' } },
      { name: 'full-leaf', version: '1.0.0', description: 'leaf' },
      { name: 'full-root', version: '2.0.0', description: 'root', dependencies: { 'full-leaf': '^1.0.0' } },
      { name: 'corgi-viewed', version: '3.0.0', description: 'read in full before the outage' },
    ]) {
      const published = await client.npm(['publish', makePackage(pkg, { 'README.md': readme })]);
      expect(published.code, published.stderr).toBe(0);
    }
    counter = await countingProxy(`${upstream.url}/public/`);
    registry = await startRegistry(`
repositories:
  npm-local: { format: npm, type: hosted }
  npmjs: { format: npm, type: proxy, upstream: "${counter.url}" }
  npm: { format: npm, type: group, members: [npm-local, npmjs] }
`);
  }, 300_000);

  afterAll(async () => {
    await registry?.stop();
    counter?.server.close();
    await upstream?.stop();
  });

  const packumentRequests = (name: string) => counter.requests.filter((r) => r.url === `/${name}`);

  it('a pnpm install through the group asks the upstream for abbreviated documents only, and each tarball once', async () => {
    const project = makeProject({ 'corgi-root': '2.0.0' });
    const installed = await new NpmClient(`${registry.url}/npm/`).pnpm(['install', `--registry=${registry.url}/npm/`], project);
    expect(installed.code, installed.stderr).toBe(0);
    expect(existsSync(path.join(project, 'node_modules/corgi-root/package.json'))).toBe(true);
    for (const [name, version] of [['corgi-root', '2.0.0'], ['corgi-leaf', '1.1.0']] as const) {
      const asked = packumentRequests(name);
      expect(asked.length, JSON.stringify(counter.requests)).toBe(1);
      expect(asked[0]!.accept, name).toContain(ABBREVIATED);
      expect(counter.counts.get(`/${name}/-/${name}-${version}.tgz`), name).toBe(1);
    }
  });

  it('an npm install asks the upstream for one document per package, whichever form npm reads first', async () => {
    const project = makeProject({ 'full-root': '2.0.0' });
    const installed = await new NpmClient(`${registry.url}/npm/`).npm(['install', '--no-audit', '--prefer-online'], project);
    expect(installed.code, installed.stderr).toBe(0);
    expect(existsSync(path.join(project, 'node_modules/full-leaf/package.json'))).toBe(true);
    for (const [name, version] of [['full-root', '2.0.0'], ['full-leaf', '1.0.0']] as const) {
      expect(packumentRequests(name).length, JSON.stringify(counter.requests)).toBe(1);
      expect(counter.counts.get(`/${name}/-/${name}-${version}.tgz`), name).toBe(1);
    }
  });

  it('serves the upstream abbreviated document as its own, and the full one for a full read', async () => {
    const abbreviated = await fetch(`${registry.url}/npmjs/corgi-leaf`, { headers: { accept: ABBREVIATED } });
    expect(abbreviated.status).toBe(200);
    expect(abbreviated.headers.get('content-type')).toContain(ABBREVIATED);
    const corgi = (await abbreviated.json()) as { versions: Record<string, { dist: { tarball: string } }>; readme?: string };
    expect(Object.keys(corgi.versions).sort()).toEqual(['1.0.0', '1.1.0']);
    expect(corgi.readme).toBeUndefined();
    expect(corgi.versions['1.1.0']!.dist.tarball).toBe(`${registry.url}/npmjs/corgi-leaf/-/corgi-leaf-1.1.0.tgz`);
    // Cached: no second request.
    expect(packumentRequests('corgi-leaf').length).toBe(1);

    const full = await fetch(`${registry.url}/npmjs/corgi-leaf`, { headers: { accept: 'application/json' } });
    expect(full.status).toBe(200);
    const doc = (await full.json()) as { readme?: string; time?: Record<string, string>; versions: Record<string, { dist: { tarball: string } }> };
    expect(doc.readme).toContain('installers never read');
    expect(doc.time?.['1.1.0']).toBeTruthy();
    expect(doc.versions['1.0.0']!.dist.tarball).toBe(`${registry.url}/npmjs/corgi-leaf/-/corgi-leaf-1.0.0.tgz`);
    const asked = packumentRequests('corgi-leaf');
    expect(asked.length).toBe(2);
    expect(asked[1]!.accept).toBe('application/json');
  });

  it('with the upstream gone, an install is served from a cached full document; a full read is not served from an abbreviated one', async () => {
    const viewed = await fetch(`${registry.url}/npmjs/corgi-viewed`, { headers: { accept: 'application/json' } });
    expect(viewed.status).toBe(200);
    await viewed.arrayBuffer();
    counter.server.close();
    counter.server.closeAllConnections();

    const install = await fetch(`${registry.url}/npm/corgi-viewed`, { headers: { accept: ABBREVIATED } });
    expect(install.status).toBe(200);
    const corgi = (await install.json()) as { versions: Record<string, { description?: string; dist: unknown }>; readme?: string };
    // Rendered abbreviated from the full document, without asking the (gone) upstream.
    expect(Object.keys(corgi.versions)).toEqual(['3.0.0']);
    expect(corgi.readme).toBeUndefined();
    expect(corgi.versions['3.0.0']!.description).toBeUndefined();

    // corgi-root was only ever read abbreviated (by the install): its full document is not there.
    const full = await fetch(`${registry.url}/npmjs/corgi-root`, { headers: { accept: 'application/json' } });
    expect(full.status).toBe(502);
    await full.arrayBuffer();
  });
});
