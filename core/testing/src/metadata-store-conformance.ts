import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** An asset row as the metadata store keeps it (numbers are milliseconds and bytes). */
export interface MetadataAssetRow {
  id?: number;
  repository: string;
  path: string;
  kind: 'metadata' | 'content';
  storage: string;
  blobKey: string;
  size: number;
  md5: string;
  sha1: string;
  sha256: string;
  sha512: string;
  contentType: string;
  attributes: string;
  createdAt: number;
  updatedAt: number;
  lastDownloadedAt: number | null;
  expiresAt: number | null;
  upstreamEtag: string | null;
  upstreamLastModified: string | null;
}

export interface MetadataDocumentRow {
  repository: string;
  key: string;
  value: string;
  revision: number;
  updatedAt: number;
}

export interface MetadataComponentRow {
  repository: string;
  name: string;
  version: string;
  searchText: string;
  attributes: string;
  updatedAt: number;
}

/**
 * What the suite exercises of a metadata store: the kernel's store satisfies it by
 * structure. Every store engine (the embedded SQLite, PostgreSQL, a third party's) must
 * behave the same through it.
 */
export interface MetadataStoreUnderTest {
  findAsset(repository: string, path: string): Promise<MetadataAssetRow | null>;
  saveAsset(row: Omit<MetadataAssetRow, 'id'>): Promise<MetadataAssetRow | null>;
  updateAsset(repository: string, path: string, change: Partial<MetadataAssetRow>): Promise<void>;
  deleteAsset(repository: string, path: string): Promise<MetadataAssetRow | null>;
  deleteAssetsByPrefix(repository: string, prefix: string): Promise<MetadataAssetRow[]>;
  blobInUse(storage: string, blobKey: string): Promise<boolean>;
  isNegativeCached(repository: string, path: string, now: number): Promise<boolean>;
  setNegativeCached(repository: string, path: string, expiresAt: number): Promise<void>;
  clearNegativeCached(repository: string, path: string): Promise<void>;
  purgeExpiredNegatives(now: number): Promise<void>;
  getDocument(repository: string, key: string): Promise<MetadataDocumentRow | null>;
  updateDocument(repository: string, key: string, change: (current: MetadataDocumentRow | null) => Promise<string | null | undefined>): Promise<MetadataDocumentRow | null>;
  deleteDocument(repository: string, key: string): Promise<boolean>;
  onChange(listener: (repository: string) => void): () => void;
  withClusterLock<T>(key: string, work: () => Promise<T>): Promise<T>;
  acquireClusterLock(key: string): Promise<() => Promise<void>>;
  upsertComponent(row: MetadataComponentRow): Promise<void>;
  removeComponents(repository: string, name: string, version?: string): Promise<number>;
  componentVersions(repository: string, name: string): Promise<MetadataComponentRow[]>;
  searchComponents(repository: string, text: string, offset: number, limit: number): Promise<{ total: number; rows: MetadataComponentRow[] }>;
  getValue(namespace: string, key: string): Promise<string | undefined>;
  setValue(namespace: string, key: string, value: string): Promise<void>;
  deleteValue(namespace: string, key: string): Promise<boolean>;
  close(): Promise<void>;
}

/** What the setup of {@link describeMetadataStoreConformance} provides. */
export interface MetadataStoreFixture<S extends MetadataStoreUnderTest> {
  /** A store over a fresh, migrated database. */
  readonly store: S;
  /** Another store (another node) on the same database. */
  openAnother(): Promise<S>;
  /**
   * True when several stores on one database exclude each other with cluster locks (a
   * shared server such as PostgreSQL); false for a one-node engine (embedded SQLite), whose
   * cluster locks resolve at once and leave exclusion to the caller's process.
   */
  readonly multiNode: boolean;
  cleanup(): Promise<void>;
}

function asset(repository: string, path: string, overrides: Partial<MetadataAssetRow> = {}): Omit<MetadataAssetRow, 'id'> {
  return {
    repository,
    path,
    kind: 'content',
    storage: 'default',
    blobKey: `sha256/aa/bb/${Buffer.from(path).toString('hex').slice(0, 40)}`,
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

const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The metadata-store contract: assets, the negative cache, documents with revisions and
 * serialised updates (across nodes on a shared engine), cluster locks, components,
 * key-values and change notices, with exact round trips of big numbers and any text.
 */
export function describeMetadataStoreConformance<S extends MetadataStoreUnderTest>(name: string, setup: () => Promise<MetadataStoreFixture<S>>): void {
  describe(`metadata store conformance: ${name}`, { timeout: 60_000 }, () => {
    let fixture: MetadataStoreFixture<S>;
    let store: S;
    let repoCounter = 0;
    /** A repository name no other test uses (tests share one database). */
    const repo = () => `r${++repoCounter}-${Math.random().toString(36).slice(2, 8)}`;

    beforeAll(async () => {
      fixture = await setup();
      store = fixture.store;
    }, 120_000);
    afterAll(async () => {
      await store?.close();
      await fixture?.cleanup();
    });

    describe('assets', () => {
      it('saves, finds, replaces (keeping the creation time) and deletes', async () => {
        const r = repo();
        expect(await store.saveAsset(asset(r, 'a/1.tgz', { createdAt: 100 }))).toBeNull();
        expect(await store.findAsset(r, 'a/1.tgz')).toMatchObject({ repository: r, path: 'a/1.tgz', kind: 'content', lastDownloadedAt: null, upstreamEtag: null });
        const previous = await store.saveAsset(asset(r, 'a/1.tgz', { blobKey: 'sha256/cc/dd/new', createdAt: 500, updatedAt: 600 }));
        expect(previous?.blobKey).not.toBe('sha256/cc/dd/new');
        expect(await store.findAsset(r, 'a/1.tgz')).toMatchObject({ blobKey: 'sha256/cc/dd/new', createdAt: 100, updatedAt: 600 });
        expect((await store.deleteAsset(r, 'a/1.tgz'))?.path).toBe('a/1.tgz');
        expect(await store.findAsset(r, 'a/1.tgz')).toBeNull();
        expect(await store.deleteAsset(r, 'a/1.tgz')).toBeNull();
      });

      it('round-trips sizes past 2^32 and millisecond times exactly', async () => {
        const r = repo();
        const size = 5 * 1024 ** 3 + 7;
        const at = 4_102_444_800_123;
        await store.saveAsset(asset(r, 'big', { size, createdAt: at, updatedAt: at + 1, expiresAt: at + 2, lastDownloadedAt: at + 3 }));
        expect(await store.findAsset(r, 'big')).toMatchObject({ size, createdAt: at, updatedAt: at + 1, expiresAt: at + 2, lastDownloadedAt: at + 3 });
      });

      it('round-trips any text in paths and attributes byte for byte', async () => {
        const r = repo();
        // The longest path is 1024 characters, four of them outside the BMP (two UTF-16 units each).
        const longest = `long/${'😀'.repeat(4)}${'x'.repeat(1024 - 9)}`;
        const paths = ['@scope/名前/-/名前-1.0.0.tgz', 'emoji/😀/ü-ß-é', longest, "quote'\"`back\\slash;--", 'percent%20and+plus', 'space in/path'];
        for (const p of paths) await store.saveAsset(asset(r, p, { attributes: JSON.stringify({ p }) }));
        for (const p of paths) {
          const found = await store.findAsset(r, p);
          expect(found?.path).toBe(p);
          expect(JSON.parse(found!.attributes)).toEqual({ p });
        }
        // Longer, or with a NUL (PostgreSQL cannot store one): refused alike by every engine.
        await expect(store.saveAsset(asset(r, `${longest}y`))).rejects.toMatchObject({ status: 400 });
        await expect(store.saveAsset(asset(r, 'nul\0byte'))).rejects.toMatchObject({ status: 400 });
        await expect(store.updateDocument(r, `${longest}y`, async () => 'v')).rejects.toMatchObject({ status: 400 });
        expect(await store.findAsset(r, `${longest}y`)).toBeNull();
        // Lookups are exact: no case folding, no trimming.
        expect(await store.findAsset(r, 'EMOJI/😀/ü-ß-é')).toBeNull();
        expect(await store.findAsset(r, 'space in/path ')).toBeNull();
      });

      it('updates only the given fields', async () => {
        const r = repo();
        await store.saveAsset(asset(r, 'u', { contentType: 'text/plain' }));
        await store.updateAsset(r, 'u', { lastDownloadedAt: 42, upstreamEtag: '"e"' });
        expect(await store.findAsset(r, 'u')).toMatchObject({ lastDownloadedAt: 42, upstreamEtag: '"e"', contentType: 'text/plain' });
      });

      it('deletes by prefix taking %, _ and \\ literally, in its repository only', async () => {
        const r = repo();
        const other = repo();
        for (const p of ['p%/x', 'p%/y', 'pX/z', 'p_/w', 'p\\/v']) await store.saveAsset(asset(r, p));
        await store.saveAsset(asset(other, 'p%/x'));
        expect((await store.deleteAssetsByPrefix(r, 'p%/')).map((row) => row.path).sort()).toEqual(['p%/x', 'p%/y']);
        expect((await store.deleteAssetsByPrefix(r, 'p\\/')).map((row) => row.path)).toEqual(['p\\/v']);
        expect(await store.findAsset(r, 'pX/z')).not.toBeNull();
        expect(await store.findAsset(r, 'p_/w')).not.toBeNull();
        expect(await store.findAsset(other, 'p%/x')).not.toBeNull();
      });

      it('says whether a blob is still referenced, across repositories', async () => {
        const [a, b] = [repo(), repo()];
        const blobKey = `sha256/ee/ff/${repo()}`;
        await store.saveAsset(asset(a, 'one', { blobKey }));
        await store.saveAsset(asset(b, 'two', { blobKey }));
        await store.deleteAsset(a, 'one');
        expect(await store.blobInUse('default', blobKey)).toBe(true);
        expect(await store.blobInUse('other-storage', blobKey)).toBe(false);
        await store.deleteAsset(b, 'two');
        expect(await store.blobInUse('default', blobKey)).toBe(false);
      });

      it("sees another node's writes", async () => {
        const r = repo();
        const other = await fixture.openAnother();
        try {
          await other.saveAsset(asset(r, 'from-b', { kind: 'metadata' }));
          expect(await store.findAsset(r, 'from-b')).toMatchObject({ path: 'from-b' });
        } finally {
          await other.close();
        }
      });
    });

    describe('negative cache', () => {
      it('remembers a miss until it expires, is cleared, or is purged', async () => {
        const r = repo();
        await store.setNegativeCached(r, 'missing', 2000);
        expect(await store.isNegativeCached(r, 'missing', 1000)).toBe(true);
        expect(await store.isNegativeCached(r, 'missing', 3000)).toBe(false);
        expect(await store.isNegativeCached(r, 'other', 1000)).toBe(false);
        await store.setNegativeCached(r, 'missing', 5000);
        await store.setNegativeCached(r, 'old', 1000);
        await store.purgeExpiredNegatives(4000);
        expect(await store.isNegativeCached(r, 'missing', 4500)).toBe(true);
        expect(await store.isNegativeCached(r, 'old', 0)).toBe(false);
        await store.clearNegativeCached(r, 'missing');
        expect(await store.isNegativeCached(r, 'missing', 4500)).toBe(false);
      });
    });

    describe('documents', () => {
      it('counts revisions, keeps a document when told to, deletes it with null', async () => {
        const r = repo();
        expect(await store.updateDocument(r, 'pkg', async () => '{"v":1}')).toMatchObject({ repository: r, key: 'pkg', value: '{"v":1}', revision: 1 });
        const second = await store.updateDocument(r, 'pkg', async (current) => `{"v":${JSON.parse(current!.value).v + 1}}`);
        expect(second).toMatchObject({ value: '{"v":2}', revision: 2 });
        const kept = await store.updateDocument(r, 'pkg', async () => undefined);
        expect(kept).toMatchObject({ value: '{"v":2}', revision: 2 });
        expect(await store.getDocument(r, 'pkg')).toMatchObject({ value: '{"v":2}', revision: 2 });
        expect(await store.updateDocument(r, 'pkg', async () => null)).toBeNull();
        expect(await store.getDocument(r, 'pkg')).toBeNull();
      });

      it('writes nothing when the change throws', async () => {
        const r = repo();
        await store.updateDocument(r, 'doc', async () => 'one');
        await expect(store.updateDocument(r, 'doc', async () => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
        expect(await store.getDocument(r, 'doc')).toMatchObject({ value: 'one', revision: 1 });
      });

      it('holds large documents and any text exactly', async () => {
        const r = repo();
        const value = JSON.stringify({ text: 'ü😀名前\u2028"\\', filler: 'x'.repeat(4 * 1024 * 1024) });
        await store.updateDocument(r, 'big', async () => value);
        expect((await store.getDocument(r, 'big'))?.value).toBe(value);
      });

      it('serialises concurrent read-modify-writes of one key: no update is lost', async () => {
        const r = repo();
        await Promise.all(Array.from({ length: 20 }, () => store.updateDocument(r, 'counter', async (c) => String(Number(c?.value ?? '0') + 1))));
        expect(await store.getDocument(r, 'counter')).toMatchObject({ value: '20', revision: 20 });
      });

      it('across two nodes, never loses an update', async () => {
        const r = repo();
        const other = await fixture.openAnother();
        try {
          const bump = (s: S) => s.updateDocument(r, 'shared', async (c) => String(Number(c?.value ?? '0') + 1));
          const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => bump(i % 2 === 0 ? store : other)));
          const landed = results.filter((result) => result.status === 'fulfilled').length;
          expect((await other.getDocument(r, 'shared'))?.value).toBe(String(landed));
          // A one-node engine may refuse a second process's write as a conflict (to retry);
          // a shared engine serialises them all.
          for (const result of results) if (result.status === 'rejected') expect((result.reason as Error).message).toMatch(/changed concurrently/);
          if (fixture.multiNode) expect(landed).toBe(12);
        } finally {
          await other.close();
        }
      });

      it('tells listeners which repository changed, until they unsubscribe', async () => {
        const r = repo();
        const seen: string[] = [];
        const stop = store.onChange((repository) => seen.push(repository));
        await store.updateDocument(r, 'k', async () => 'v');
        await store.deleteDocument(r, 'k');
        stop();
        await store.updateDocument(r, 'k', async () => 'w');
        expect(seen).toEqual([r, r]);
        expect(await store.deleteDocument(r, 'missing')).toBe(false);
      });
    });

    describe('cluster locks', () => {
      it('runs work under a lock, releasing it when the work throws', async () => {
        const key = `lock-${repo()}`;
        await expect(store.withClusterLock(key, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
        expect(await store.withClusterLock(key, async () => 'again')).toBe('again');
      });

      it('excludes another node holding the same key, and only that key', async () => {
        const key = `lock-${repo()}`;
        const other = await fixture.openAnother();
        try {
          const release = await store.acquireClusterLock(key);
          let acquired = false;
          const waiting = other.acquireClusterLock(key).then((otherRelease) => {
            acquired = true;
            return otherRelease;
          });
          // A different key is free at once.
          await (await other.acquireClusterLock(`${key}-other`))();
          await later(300);
          // One-node engines do not lock across stores (their callers' processes do).
          expect(acquired).toBe(!fixture.multiNode);
          await release();
          await (await waiting)();
          expect(acquired).toBe(true);
        } finally {
          await other.close();
        }
      });

      it("frees a node's locks when that node goes away", async () => {
        if (!fixture.multiNode) {
          // Nothing is held across stores on a one-node engine: the lock is free at once.
          const release = await store.acquireClusterLock(`lock-${repo()}`);
          await release();
          return;
        }
        const key = `lock-${repo()}`;
        const dying = await fixture.openAnother();
        await dying.acquireClusterLock(key);
        await dying.close();
        const release = await Promise.race([store.acquireClusterLock(key), later(5000).then(() => undefined)]);
        expect(release, 'the lock of a closed store was still held after 5 s').toBeTypeOf('function');
        await release!();
      });
    });

    describe('components', () => {
      it('upserts by name and version, lists versions, removes one or all', async () => {
        const r = repo();
        await store.upsertComponent({ repository: r, name: 'left-pad', version: '1.0.0', searchText: 'left-pad', attributes: '{"a":1}', updatedAt: 1 });
        await store.upsertComponent({ repository: r, name: 'left-pad', version: '1.0.0', searchText: 'left-pad', attributes: '{"a":2}', updatedAt: 2 });
        await store.upsertComponent({ repository: r, name: 'left-pad', version: '1.1.0', searchText: 'left-pad', attributes: '{}', updatedAt: 3 });
        const versions = await store.componentVersions(r, 'left-pad');
        expect(versions.map((c) => [c.version, c.attributes])).toEqual([
          ['1.0.0', '{"a":2}'],
          ['1.1.0', '{}'],
        ]);
        expect(await store.removeComponents(r, 'left-pad', '1.0.0')).toBe(1);
        expect(await store.removeComponents(r, 'left-pad')).toBe(1);
        expect(await store.componentVersions(r, 'left-pad')).toEqual([]);
      });

      it('searches case-insensitively, one hit per name (its newest row), paged, wildcards literal', async () => {
        const r = repo();
        const rows: [string, string, number][] = [
          ['left-pad', '1.0.0', 1],
          ['left-pad', '1.1.0', 2],
          ['right-pad', '1.0.0', 3],
          ['50%_off', '1.0.0', 4],
          ['unrelated', '1.0.0', 5],
        ];
        for (const [n, version, at] of rows) await store.upsertComponent({ repository: r, name: n, version, searchText: n === 'unrelated' ? 'something else' : `${n} padding`, attributes: '{}', updatedAt: at });
        const hits = await store.searchComponents(r, 'PAD', 0, 10);
        expect(hits.total).toBe(3);
        expect(hits.rows.map((c) => `${c.name}@${c.version}`)).toEqual(['50%_off@1.0.0', 'left-pad@1.1.0', 'right-pad@1.0.0']);
        const page = await store.searchComponents(r, 'pad', 1, 1);
        expect(page.total).toBe(3);
        expect(page.rows.map((c) => c.name)).toEqual(['left-pad']);
        expect((await store.searchComponents(r, '%_', 0, 10)).rows.map((c) => c.name)).toEqual(['50%_off']);
        expect((await store.searchComponents(r, '_', 0, 10)).rows.map((c) => c.name)).toEqual(['50%_off']);
        expect((await store.searchComponents(repo(), 'pad', 0, 10)).total).toBe(0);
      });
    });

    describe('key-values', () => {
      it('sets, replaces and deletes per namespace', async () => {
        const ns = repo();
        await store.setValue(ns, 'k', 'one');
        await store.setValue(ns, 'k', 'two');
        await store.setValue(`${ns}-other`, 'k', 'elsewhere');
        expect(await store.getValue(ns, 'k')).toBe('two');
        expect(await store.deleteValue(ns, 'k')).toBe(true);
        expect(await store.deleteValue(ns, 'k')).toBe(false);
        expect(await store.getValue(ns, 'k')).toBeUndefined();
        expect(await store.getValue(`${ns}-other`, 'k')).toBe('elsewhere');
      });
    });
  });
}
