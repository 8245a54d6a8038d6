import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTestHost, type TestHost } from '@registry-core/testing';

const npmPlugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../plugins/npm');

type Page = { total: number; items: { name: string; version: string; repository: string }[] };

// The real kernel with the npm plugin; the proxy's store is filled as its cache fills it
// (tarballs and a packument beside them), without an upstream: what is listed is what is stored.
describe("a proxy's cached packages in the browse API", () => {
  let host: TestHost;
  let proxy: TestHost['registry']['repositories'] extends ReadonlyMap<string, infer R> ? R : never;
  const cache = (file: string) => proxy.handle.assets.put(file, Buffer.from(file), { kind: 'content', contentType: 'application/octet-stream' });
  const list = async (query = '') => (await (await host.fetch(`/-/api/repositories/npm-proxy/packages${query}`)).json()) as Page;

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    host = await createTestHost({
      plugins: [npmPlugin],
      repositories: { 'npm-proxy': { format: 'npm', type: 'proxy', upstream: 'http://127.0.0.1:9/' }, npm: { format: 'npm', type: 'group', members: ['npm-proxy'] } },
    });
    proxy = host.registry.repositories.get('npm-proxy')!;
  });
  afterEach(async () => {
    vi.useRealTimers();
    await host.stop();
  });

  it('maps stored files to packages and versions exactly, across pages of the store, and pages and filters them', async () => {
    // More files than one page of the asset store (1000), in several packages and versions.
    for (let i = 0; i < 1003; i++) await cache(`pkg-${String(i % 40).padStart(2, '0')}/-/pkg-${String(i % 40).padStart(2, '0')}-1.${Math.floor(i / 40)}.0.tgz`);
    await cache('@scope/tool/-/tool-1.9.0.tgz');
    await cache('@scope/tool/-/tool-1.10.0.tgz');
    // Not a package's file: not listed.
    await cache('not-a-tarball.json');
    const all = await list('?limit=100');
    expect(all.total).toBe(41);
    expect(all.items[0]).toMatchObject({ name: '@scope/tool', version: '1.10.0', repository: 'npm-proxy' });
    expect(all.items.slice(1, 3).map((i) => `${i.name}@${i.version}`)).toEqual(['pkg-00@1.25.0', 'pkg-01@1.25.0']);
    expect(all.items.at(-1)).toMatchObject({ name: 'pkg-39', version: '1.24.0' });
    expect((await list('?q=PKG-3&offset=2&limit=3')).items.map((i) => i.name)).toEqual(['pkg-32', 'pkg-33', 'pkg-34']);
    expect((await list('?q=pkg-3')).total).toBe(10);
    // Through the group, and opened: every cached version, the files of one.
    const opened = (await (await host.fetch('/-/api/repositories/npm/packages/%40scope%2Ftool?version=1.9.0')).json()) as { heldBy: string; versions: { version: string }[]; files: { path: string; size: number }[] };
    expect(opened.heldBy).toBe('npm-proxy');
    expect(opened.versions.map((v) => v.version)).toEqual(['1.10.0', '1.9.0']);
    expect(opened.files).toEqual([expect.objectContaining({ path: '@scope/tool/-/tool-1.9.0.tgz', size: '@scope/tool/-/tool-1.9.0.tgz'.length })]);
    expect((await host.fetch('/-/api/repositories/npm-proxy/packages/%40scope%2Ftool?version=2.0.0')).status).toBe(404);
    expect(((await (await host.fetch('/-/api/repositories/npm-proxy')).json()) as { packages: number }).packages).toBe(41);
  });

  it('lists a newly cached file once the listing is rebuilt after the change, not before 2 s', async () => {
    await cache('first/-/first-1.0.0.tgz');
    expect((await list()).items.map((i) => i.name)).toEqual(['first']);
    await cache('second/-/second-1.0.0.tgz');
    // Rebuilt at most every 2 s while the proxy keeps changing.
    expect((await list()).items.map((i) => i.name)).toEqual(['first']);
    vi.setSystemTime(Date.now() + 2_000);
    expect((await list()).items.map((i) => i.name)).toEqual(['first', 'second']);
    // Removed files go the same way.
    await proxy.handle.assets.delete('first/-/first-1.0.0.tgz');
    vi.setSystemTime(Date.now() + 2_000);
    expect((await list()).items.map((i) => i.name)).toEqual(['second']);
  });
});
