// The metadata store's behaviour, the same on the embedded SQLite and on a real
// PostgreSQL (started by the test): migrations, assets, documents, the negative cache,
// components, key-values, the audit log, and big numbers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPostgres, type TestPostgres } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetadataConfig } from '../config/types.js';
import type { AssetRow } from './entities.js';
import { MetadataStore } from './metadata-store.js';

let postgres: TestPostgres | undefined;
const dirs: string[] = [];

beforeAll(async () => {
  postgres = await startPostgres();
}, 60_000);
afterAll(async () => {
  await postgres?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

let databases = 0;
const engines: Record<string, () => Promise<MetadataConfig>> = {
  sqlite: async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rc-meta-'));
    dirs.push(dir);
    return { type: 'sqlite', path: path.join(dir, 'registry.sqlite') };
  },
  postgres: async () => ({ type: 'postgres', url: await postgres!.createDatabase(`rc_test_${++databases}`), poolSize: 5 }),
};

function asset(repository: string, p: string, overrides: Partial<AssetRow> = {}): Omit<AssetRow, 'id'> {
  return {
    repository,
    path: p,
    kind: 'content',
    storage: 'default',
    blobKey: `sha256/aa/bb/${p.replace(/\W/g, '')}`,
    size: 10,
    md5: 'm',
    sha1: 's1',
    sha256: 's256',
    sha512: 's512',
    contentType: 'application/octet-stream',
    attributes: '{}',
    createdAt: 1,
    updatedAt: 1,
    lastDownloadedAt: null,
    expiresAt: null,
    upstreamEtag: null,
    upstreamLastModified: null,
    ...overrides,
  };
}

describe.each(Object.keys(engines))('metadata store on %s', (engine) => {
  let store: MetadataStore;
  let config: MetadataConfig;

  beforeAll(async () => {
    config = await engines[engine]!();
    store = await MetadataStore.open(config);
  }, 60_000);
  afterAll(async () => {
    await store?.close();
  });

  it('with metadata.migrate false, refuses to start on a store needing migrations until they are run', async () => {
    const fresh = { ...(await engines[engine]!()), migrate: false };
    await expect(MetadataStore.open(fresh)).rejects.toThrow(/registry-core db migrate/);
    const migrating = await MetadataStore.open(fresh, { migrate: false, check: false });
    expect(await migrating.migrate()).toEqual(['InitialSchema1732406400000', 'AuditLog1764000000000', 'TokenScopes1764000100000']);
    expect(await migrating.migrate()).toEqual([]);
    await migrating.close();
    await (await MetadataStore.open(fresh)).close();
  });

  it('runs its migrations once: opening again changes nothing', async () => {
    const again = await MetadataStore.open(config);
    await again.close();
  });

  it('saves, finds, replaces and deletes assets; numbers past 2^32 survive', async () => {
    const big = 5 * 1024 ** 3 + 7;
    expect(await store.saveAsset(asset('r', 'a/1.tgz', { size: big, expiresAt: 1_900_000_000_000 }))).toBeNull();
    const found = await store.findAsset('r', 'a/1.tgz');
    expect(found).toMatchObject({ repository: 'r', path: 'a/1.tgz', size: big, expiresAt: 1_900_000_000_000, lastDownloadedAt: null, upstreamEtag: null });
    const previous = await store.saveAsset(asset('r', 'a/1.tgz', { blobKey: 'sha256/cc/dd/new', createdAt: 5 }));
    expect(previous?.blobKey).toBe('sha256/aa/bb/a1tgz');
    const replaced = await store.findAsset('r', 'a/1.tgz');
    expect(replaced).toMatchObject({ blobKey: 'sha256/cc/dd/new', createdAt: 1 });
    await store.updateAsset('r', 'a/1.tgz', { lastDownloadedAt: 42, upstreamEtag: '"x"' });
    expect(await store.findAsset('r', 'a/1.tgz')).toMatchObject({ lastDownloadedAt: 42, upstreamEtag: '"x"' });
    expect(await store.blobInUse('default', 'sha256/cc/dd/new')).toBe(true);
    expect((await store.deleteAsset('r', 'a/1.tgz'))?.path).toBe('a/1.tgz');
    expect(await store.findAsset('r', 'a/1.tgz')).toBeNull();
    expect(await store.blobInUse('default', 'sha256/cc/dd/new')).toBe(false);
  });

  it('deletes by prefix, taking % and _ literally', async () => {
    for (const p of ['p%/x', 'p%/y', 'pX/z', 'p_/w']) await store.saveAsset(asset('pre', p));
    expect((await store.deleteAssetsByPrefix('pre', 'p%/')).map((r) => r.path).sort()).toEqual(['p%/x', 'p%/y']);
    expect(await store.findAsset('pre', 'pX/z')).not.toBeNull();
    expect(await store.findAsset('pre', 'p_/w')).not.toBeNull();
  });

  it('keeps documents with revisions, refusing a write from a stale read', async () => {
    const first = await store.updateDocument('d', 'pkg', async () => '{"v":1}');
    expect(first).toMatchObject({ key: 'pkg', value: '{"v":1}', revision: 1 });
    const second = await store.updateDocument('d', 'pkg', async (current) => `{"v":${JSON.parse(current!.value).v + 1}}`);
    expect(second).toMatchObject({ value: '{"v":2}', revision: 2 });
    expect(await store.getDocument('d', 'pkg')).toMatchObject({ repository: 'd', key: 'pkg', value: '{"v":2}', revision: 2 });
    // Serialised per key: concurrent increments all land.
    await Promise.all(Array.from({ length: 10 }, () => store.updateDocument('d', 'counter', async (c) => String(Number(c?.value ?? '0') + 1))));
    expect((await store.getDocument('d', 'counter'))?.value).toBe('10');
    expect(await store.updateDocument('d', 'pkg', async () => null)).toBeNull();
    expect(await store.getDocument('d', 'pkg')).toBeNull();
  });

  it('serialises one document across two stores on one database (two nodes)', async () => {
    const other = await MetadataStore.open(config);
    try {
      const bump = (s: MetadataStore) => s.updateDocument('d', 'shared', async (c) => String(Number(c?.value ?? '0') + 1));
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => bump(i % 2 === 0 ? store : other)));
      const landed = results.filter((r) => r.status === 'fulfilled').length;
      // Never a lost update: every write that succeeded is counted, and the others are
      // refused as conflicts (409). PostgreSQL's advisory locks make them all succeed;
      // SQLite is a one-node store, where a second process may be told to retry.
      expect((await other.getDocument('d', 'shared'))?.value).toBe(String(landed));
      for (const r of results) if (r.status === 'rejected') expect((r.reason as Error).message).toMatch(/changed concurrently/);
      if (engine === 'postgres') expect(landed).toBe(10);
    } finally {
      await other.close();
    }
  });

  it('remembers and forgets negative answers', async () => {
    await store.setNegativeCached('n', 'missing', 2000);
    expect(await store.isNegativeCached('n', 'missing', 1000)).toBe(true);
    expect(await store.isNegativeCached('n', 'missing', 3000)).toBe(false);
    await store.setNegativeCached('n', 'missing', 5000);
    await store.purgeExpiredNegatives(4000);
    expect(await store.isNegativeCached('n', 'missing', 4500)).toBe(true);
    await store.clearNegativeCached('n', 'missing');
    expect(await store.isNegativeCached('n', 'missing', 4500)).toBe(false);
  });

  it('indexes and searches components, one hit per name', async () => {
    for (const [name, version, at] of [['left-pad', '1.0.0', 1], ['left-pad', '1.1.0', 2], ['right-pad', '1.0.0', 3], ['50%_off', '1.0.0', 4]] as const) {
      await store.upsertComponent({ repository: 'c', name, version, searchText: `${name} padding`, attributes: '{}', updatedAt: at });
    }
    const hits = await store.searchComponents('c', 'pad', 0, 10);
    expect(hits.total).toBe(3);
    expect(hits.rows.map((r) => `${r.name}@${r.version}`)).toEqual(['50%_off@1.0.0', 'left-pad@1.1.0', 'right-pad@1.0.0']);
    expect((await store.searchComponents('c', '%_', 0, 10)).rows.map((r) => r.name)).toEqual(['50%_off']);
    expect(await store.removeComponents('c', 'left-pad', '1.0.0')).toBe(1);
    expect((await store.componentVersions('c', 'left-pad')).map((r) => r.version)).toEqual(['1.1.0']);
  });

  it('keeps key-values and audit events', async () => {
    await store.setValue('ns', 'k', 'one');
    await store.setValue('ns', 'k', 'two');
    expect(await store.getValue('ns', 'k')).toBe('two');
    expect(await store.deleteValue('ns', 'k')).toBe(true);
    expect(await store.getValue('ns', 'k')).toBeUndefined();
    await store.audit.insert({ at: 2_000_000_000_000, action: 'publish', outcome: 'ok', principal: 'amy', repository: 'r', package: 'p', version: '1.0.0', clientAddress: '::1', details: '{}' });
    expect(await store.audit.findOneBy({ principal: 'amy' })).toMatchObject({ at: 2_000_000_000_000, action: 'publish' });
  });
});
