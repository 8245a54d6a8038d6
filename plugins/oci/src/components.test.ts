import type { Asset, Component, RepositoryHandle } from '@registry-core/api';
import { describe, expect, it } from 'vitest';
import { syncComponents } from './components.js';
import { documents, paths, parseDigest } from './names.js';

const digest = (c: string) => `sha256:${c.repeat(64)}`;

/** What syncComponents reads and writes of a hosted repository: manifests, tags, components. */
function fakeRepository() {
  const manifests = new Map<string, Record<string, unknown>>();
  const tags = new Map<string, Record<string, string>>();
  const components = new Map<string, Component>();
  const repository = {
    assets: {
      async list(prefix: string) {
        const assets = [...manifests].filter(([p]) => p.startsWith(prefix)).map(([path, attributes]) => ({ path, attributes }) as unknown as Asset);
        return { assets };
      },
    },
    documents: {
      async get(key: string) {
        const image = key.replace(/^tags:/, '');
        return tags.has(image) ? { value: { tags: tags.get(image) }, revision: 1, updatedAt: new Date() } : undefined;
      },
    },
    components: {
      async upsert(c: { name: string; version: string; attributes?: Record<string, unknown> }) {
        components.set(`${c.name}@${c.version}`, { name: c.name, version: c.version, attributes: c.attributes ?? {}, updatedAt: new Date() });
      },
      async remove(name: string, version?: string) {
        const gone = [...components.keys()].filter((k) => k === `${name}@${version}`);
        for (const k of gone) components.delete(k);
        return gone.length;
      },
      async versions(name: string) {
        return [...components.values()].filter((c) => c.name === name);
      },
    },
  } as unknown as RepositoryHandle;
  const versions = async (image: string) => (await repository.components.versions(image)).map((c) => c.version).sort();
  const store = (image: string, d: string, references: string[] = []) => manifests.set(paths.manifest(image, parseDigest(d)), { mediaType: 'm', references });
  return { repository, manifests, tags, store, versions };
}

describe('syncComponents', () => {
  it('indexes tags, and untagged pushes by digest, while the image has a manifest', async () => {
    const { repository, manifests, tags, store, versions } = fakeRepository();
    expect(documents.tags('app')).toBe('tags:app');
    await syncComponents(repository, 'app');
    expect(await versions('app')).toEqual([]);

    // An index (tagged) with two children pushed by digest, and a signature pushed by digest.
    store('app', digest('a'));
    store('app', digest('b'));
    store('app', digest('c'), [digest('a'), digest('b')]);
    store('app', digest('d'));
    tags.set('app', { '1.0': digest('c'), latest: digest('c') });
    await syncComponents(repository, 'app');
    expect(await versions('app')).toEqual(['1.0', 'latest', digest('d')]);
    expect((await repository.components.versions('app')).find((c) => c.version === '1.0')!.attributes['digest']).toBe(digest('c'));

    // Untagged, the index is indexed by its digest: the image is still held.
    tags.set('app', {});
    await syncComponents(repository, 'app');
    expect(await versions('app')).toEqual([digest('c'), digest('d')]);

    // A tag moved to another manifest follows it.
    tags.set('app', { '1.0': digest('d') });
    await syncComponents(repository, 'app');
    expect(await versions('app')).toEqual(['1.0', digest('c')]);

    // A tag naming a manifest that is gone is no version; no manifest left, no versions.
    manifests.clear();
    await syncComponents(repository, 'app');
    expect(await versions('app')).toEqual([]);
  });

  it('leaves other images alone', async () => {
    const { repository, tags, store, versions } = fakeRepository();
    store('app', digest('a'));
    store('app/sub', digest('b'));
    tags.set('app/sub', { v1: digest('b') });
    await syncComponents(repository, 'app');
    await syncComponents(repository, 'app/sub');
    expect(await versions('app')).toEqual([digest('a')]);
    expect(await versions('app/sub')).toEqual(['v1']);
  });
});
