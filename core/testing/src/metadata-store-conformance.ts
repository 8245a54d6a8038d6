import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

// The shapes below mirror the kernel's metadata store (core/kernel/src/metadata) so that
// this package does not depend on the kernel (the kernel dev-depends on this one). The
// kernel's `MetadataStore` satisfies {@link ConformanceMetadataStore} by structure.

/** A stored file of a repository (content or cached metadata), as the store keeps it. */
export interface MetadataAssetRow {
  id?: number;
  repository: string;
  path: string;
  kind: string;
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

/** A revisioned text document (package metadata, tags) of a repository. */
export interface MetadataDocumentRow {
  repository: string;
  key: string;
  value: string;
  revision: number;
  updatedAt: number;
}

/** One version of a component in the search index. */
export interface MetadataComponentRow {
  repository: string;
  name: string;
  version: string;
  /** Lower-case text searched by the component index. */
  searchText: string;
  attributes: string;
  updatedAt: number;
}

/** One row of the audit log. */
export interface MetadataAuditEventRow {
  id?: number;
  at: number;
  action: string;
  outcome: string;
  principal: string;
  repository: string | null;
  package: string | null;
  version: string | null;
  clientAddress: string | null;
  details: string;
}

/**
 * What the metadata-store conformance suite calls: the kernel's `MetadataStore` methods,
 * with their signatures. Errors a write refuses because of a concurrent change carry
 * `status` 409 (the kernel's `ConflictError`).
 */
export interface ConformanceMetadataStore {
  /** Run pending migrations; resolves the names of those applied, in order. */
  migrate(): Promise<string[]>;
  /** Release connections and locks. */
  close(): Promise<void>;

  findAsset(repository: string, assetPath: string): Promise<MetadataAssetRow | null>;
  /** Insert or replace the asset at (repository, path); resolves the previous row, if any. */
  saveAsset(row: Omit<MetadataAssetRow, 'id'>): Promise<MetadataAssetRow | null>;
  /** Change some columns (bookkeeping such as last download or expiry). */
  updateAsset(repository: string, assetPath: string, change: Partial<MetadataAssetRow>): Promise<void>;
  /** Delete and resolve the row, or `null` when there was none. */
  deleteAsset(repository: string, assetPath: string): Promise<MetadataAssetRow | null>;
  /** Delete a row as read earlier, by id. */
  deleteAssetRow(row: MetadataAssetRow): Promise<void>;
  /** Delete every asset of the repository whose path starts with `prefix` (literally). */
  deleteAssetsByPrefix(repository: string, prefix: string): Promise<MetadataAssetRow[]>;
  /** True when an asset of any repository references the blob. */
  blobInUse(storage: string, blobKey: string): Promise<boolean>;
  /** Be told, after the fact, when this store changes a repository's assets or documents. */
  onChange(listener: (repository: string) => void): () => unknown;

  isNegativeCached(repository: string, assetPath: string, now: number): Promise<boolean>;
  setNegativeCached(repository: string, assetPath: string, expiresAt: number): Promise<void>;
  clearNegativeCached(repository: string, assetPath: string): Promise<void>;
  purgeExpiredNegatives(now: number): Promise<void>;

  getDocument(repository: string, key: string): Promise<MetadataDocumentRow | null>;
  /**
   * Read-modify-write of one document, serialised per key: `change` gets the current row
   * and returns the new text, `null` to delete, or `undefined` to keep it.
   */
  updateDocument(
    repository: string,
    key: string,
    change: (current: MetadataDocumentRow | null) => Promise<string | null | undefined>,
  ): Promise<MetadataDocumentRow | null>;
  deleteDocument(repository: string, key: string): Promise<boolean>;

  /** Run `work` holding a lock every node on this database respects. */
  withClusterLock<T>(key: string, work: () => Promise<T>): Promise<T>;
  /** Take such a lock; resolves its release. */
  acquireClusterLock(key: string): Promise<() => Promise<void>>;

  upsertComponent(row: MetadataComponentRow): Promise<void>;
  removeComponents(repository: string, name: string, version?: string): Promise<number>;
  componentVersions(repository: string, name: string): Promise<MetadataComponentRow[]>;
  searchComponents(repository: string, text: string, offset: number, limit: number): Promise<{ total: number; rows: MetadataComponentRow[] }>;

  getValue(namespace: string, key: string): Promise<string | undefined>;
  setValue(namespace: string, key: string, value: string): Promise<void>;
  deleteValue(namespace: string, key: string): Promise<boolean>;

  /** The audit log table (a typeorm repository in the kernel). */
  readonly audit: {
    insert(row: Omit<MetadataAuditEventRow, 'id'>): Promise<unknown>;
    /** Rows whose columns equal `where` (no null matching, as typeorm's `find`). */
    find(options: { where?: { [K in keyof MetadataAuditEventRow]?: NonNullable<MetadataAuditEventRow[K]> }; order?: { id?: 'ASC' | 'DESC' } }): Promise<MetadataAuditEventRow[]>;
  };
}

/** What the setup of {@link describeMetadataStoreConformance} hands to each test. */
export interface MetadataStoreConformanceFixture<S extends ConformanceMetadataStore = ConformanceMetadataStore> {
  /**
   * Open a store over this fixture's database, a fresh empty one per test. Each call is
   * another store (another node) on the same database. With `migrate: false` no
   * migration is run and none is checked for.
   */
  open(options?: { migrate?: boolean }): Promise<S>;
  /** The names of the store's migrations, in the order they apply. */
  readonly migrations: readonly string[];
  /**
   * True when several stores on the database are several nodes whose cluster locks
   * exclude each other (PostgreSQL). False for a one-node engine (SQLite), where
   * `acquireClusterLock` resolves at once and in-process locks are the caller's job.
   */
  readonly multiNode: boolean;
  /** Remove the database; called after every store the suite opened is closed. */
  cleanup(): Promise<void>;
}

export interface MetadataStoreConformanceOptions {
  /** Timeout of each test in ms. Default 30 s. */
  readonly timeoutMs?: number;
}

const GiB = 1024 ** 3;

/** An asset row with every column set; `overrides` win. */
function asset(repository: string, assetPath: string, overrides: Partial<MetadataAssetRow> = {}): Omit<MetadataAssetRow, 'id'> {
  const hex = Buffer.from(assetPath).toString('hex').padEnd(64, '0').slice(0, 64);
  return {
    repository,
    path: assetPath,
    kind: 'content',
    storage: 'default',
    blobKey: `sha256/${hex.slice(0, 2)}/${hex.slice(2, 4)}/${hex}`,
    size: 10,
    md5: 'd41d8cd98f00b204e9800998ecf8427e',
    sha1: 'da39a3ee5e6b4b0d3255bfef95601890afd80709',
    sha256: hex,
    sha512: 'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e',
    contentType: 'application/octet-stream',
    attributes: '{}',
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000,
    lastDownloadedAt: null,
    expiresAt: null,
    upstreamEtag: null,
    upstreamLastModified: null,
    ...overrides,
  };
}

function component(repository: string, name: string, version: string, updatedAt: number, searchText = name.toLowerCase()): MetadataComponentRow {
  return { repository, name, version, searchText, attributes: JSON.stringify({ name, version }), updatedAt };
}

/** Resolves whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = promise.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Something no test writes: a write that sends it is refused by a NOT NULL column. */
const NOT_NULL_VIOLATION = null as unknown as string;

/**
 * The contract of the registry's metadata store, as a vitest suite. Call it at the top
 * level of a test file; `setup` runs before every test and must give a fixture over a
 * fresh, empty database. The suite closes every store it opens before `cleanup`.
 */
export function describeMetadataStoreConformance<S extends ConformanceMetadataStore>(
  name: string,
  setup: () => Promise<MetadataStoreConformanceFixture<S>>,
  options: MetadataStoreConformanceOptions = {},
): void {
  const timeout = options.timeoutMs ?? 30_000;

  describe(`metadata store conformance: ${name}`, { timeout }, () => {
    let fixture: MetadataStoreConformanceFixture<S> | undefined;
    let opened: S[] = [];
    let main: S | undefined;

    /** The test's first store (migrated). */
    const store = (): S => {
      if (main === undefined) throw new Error('setup did not run');
      return main;
    };
    /** Another store (node) on the same database. */
    async function open(openOptions?: { migrate?: boolean }): Promise<S> {
      if (fixture === undefined) throw new Error('setup did not run');
      const s = await fixture.open(openOptions);
      opened.push(s);
      return s;
    }
    const multiNode = () => fixture!.multiNode;

    beforeEach(async () => {
      fixture = await setup();
      main = await open();
    });

    afterEach(async () => {
      const current = fixture;
      const stores = opened;
      fixture = undefined;
      main = undefined;
      opened = [];
      try {
        for (const s of stores) await s.close();
      } finally {
        await current?.cleanup();
      }
    });

    describe('migrations', () => {
      it('applies every migration, in order, on a fresh database, then none', async () => {
        const expected = fixture!.migrations;
        expect(expected.length).toBeGreaterThan(0);
        const fresh = await setup();
        try {
          const s = await fresh.open({ migrate: false });
          try {
            // Nothing exists before migrating.
            await expect(s.saveAsset(asset('m', 'before'))).rejects.toThrow();
            expect(await s.migrate()).toEqual([...fresh.migrations]);
            expect(await s.migrate()).toEqual([]);
            expect(await s.saveAsset(asset('m', 'after'))).toBeNull();
            expect((await s.findAsset('m', 'after'))?.path).toBe('after');
          } finally {
            await s.close();
          }
        } finally {
          await fresh.cleanup();
        }
      });

      it('running them again is a no-op that keeps the data', async () => {
        await store().saveAsset(asset('m', 'kept', { size: 5 * GiB }));
        await store().setValue('ns', 'k', 'v');
        await store().updateDocument('m', 'doc', async () => 'text');
        expect(await store().migrate()).toEqual([]);
        const again = await open();
        expect(await again.migrate()).toEqual([]);
        expect((await again.findAsset('m', 'kept'))?.size).toBe(5 * GiB);
        expect(await again.getValue('ns', 'k')).toBe('v');
        expect((await again.getDocument('m', 'doc'))?.value).toBe('text');
      });
    });

    describe('assets', () => {
      it('saves a new asset and finds every column as written', async () => {
        const row = asset('r', 'pkg/-/pkg-1.0.0.tgz', {
          kind: 'metadata',
          size: 12_345,
          contentType: 'application/vnd.npm.install-v1+json; charset=utf-8',
          attributes: '{"integrity":"sha512-x"}',
          createdAt: 1_700_000_000_123,
          updatedAt: 1_700_000_000_456,
          lastDownloadedAt: 1_700_000_000_789,
          expiresAt: 1_700_000_300_000,
          upstreamEtag: 'W/"abc"',
          upstreamLastModified: 'Tue, 14 Nov 2023 22:13:20 GMT',
        });
        expect(await store().saveAsset(row)).toBeNull();
        const found = await store().findAsset('r', 'pkg/-/pkg-1.0.0.tgz');
        expect(found).toEqual({ ...row, id: expect.any(Number) });
        expect(await store().findAsset('r', 'pkg/-/pkg-1.0.1.tgz')).toBeNull();
        expect(await store().findAsset('other', 'pkg/-/pkg-1.0.0.tgz')).toBeNull();
        // Another node reads the same row.
        expect(await (await open()).findAsset('r', 'pkg/-/pkg-1.0.0.tgz')).toEqual(found);
      });

      it('keeps one row per (repository, path): a second save replaces it, keeping id and creation time', async () => {
        await store().saveAsset(asset('r', 'a.tgz', { blobKey: 'sha256/00/00/first', createdAt: 1_000, updatedAt: 1_000 }));
        const first = await store().findAsset('r', 'a.tgz');
        const previous = await store().saveAsset(asset('r', 'a.tgz', { blobKey: 'sha256/00/00/second', size: 99, createdAt: 2_000, updatedAt: 2_000 }));
        expect(previous).toEqual(first);
        const replaced = await store().findAsset('r', 'a.tgz');
        expect(replaced).toMatchObject({ id: first!.id, blobKey: 'sha256/00/00/second', size: 99, createdAt: 1_000, updatedAt: 2_000 });
        const all = await store().deleteAssetsByPrefix('r', '');
        expect(all.map((a) => a.blobKey)).toEqual(['sha256/00/00/second']);
      });

      it('tells paths apart by exact characters: case, Unicode normalisation and repository', async () => {
        const paths = ['A.tgz', 'a.tgz', 'caf\u00e9.tgz', 'cafe\u0301.tgz', 'a.tgz ', 'a.TGZ'];
        for (const [i, p] of paths.entries()) await store().saveAsset(asset('r', p, { size: i }));
        await store().saveAsset(asset('R', 'a.tgz', { size: 100 }));
        for (const [i, p] of paths.entries()) expect((await store().findAsset('r', p))?.size).toBe(i);
        expect((await store().findAsset('R', 'a.tgz'))?.size).toBe(100);
        expect((await store().deleteAssetsByPrefix('r', '')).length).toBe(paths.length);
      });

      it('updates some columns and leaves the others', async () => {
        await store().saveAsset(asset('r', 'u', { kind: 'metadata', expiresAt: 10, upstreamEtag: '"1"' }));
        const before = await store().findAsset('r', 'u');
        await store().updateAsset('r', 'u', { lastDownloadedAt: 4_102_444_800_000, expiresAt: 4_102_444_800_001, upstreamEtag: null });
        const after = await store().findAsset('r', 'u');
        expect(after).toEqual({ ...before, lastDownloadedAt: 4_102_444_800_000, expiresAt: 4_102_444_800_001, upstreamEtag: null });
        // A missing asset: nothing happens, nothing appears.
        await store().updateAsset('r', 'missing', { lastDownloadedAt: 1 });
        expect(await store().findAsset('r', 'missing')).toBeNull();
      });

      it('deletes one asset, resolving its row, and null for a missing one', async () => {
        await store().saveAsset(asset('r', 'd1'));
        await store().saveAsset(asset('r', 'd2'));
        const row = await store().findAsset('r', 'd1');
        expect(await store().deleteAsset('r', 'd1')).toEqual(row);
        expect(await store().findAsset('r', 'd1')).toBeNull();
        expect(await store().deleteAsset('r', 'd1')).toBeNull();
        expect(await store().findAsset('r', 'd2')).not.toBeNull();
      });

      it('deletes a row read earlier by its id', async () => {
        await store().saveAsset(asset('r', 'row'));
        const row = (await store().findAsset('r', 'row'))!;
        await store().deleteAssetRow(row);
        expect(await store().findAsset('r', 'row')).toBeNull();
        expect(await (await open()).findAsset('r', 'row')).toBeNull();
      });

      it('deletes by prefix within one repository, taking %, _ and \\ literally', async () => {
        const paths = ['p%/x', 'p%/y/z', 'pX/z', 'p%x', 'p_/w', 'pa/w', 'p\\/v', 'p\\\\/v', 'P%/x', 'q/p%/x'];
        for (const p of paths) await store().saveAsset(asset('pre', p));
        await store().saveAsset(asset('other', 'p%/x'));
        const byPrefix = async (prefix: string) => (await store().deleteAssetsByPrefix('pre', prefix)).map((r) => r.path).sort();
        expect(await byPrefix('p%/')).toEqual(['p%/x', 'p%/y/z']);
        expect(await byPrefix('p_/')).toEqual(['p_/w']);
        expect(await byPrefix('p\\/')).toEqual(['p\\/v']);
        expect(await byPrefix('nothing')).toEqual([]);
        for (const p of ['pX/z', 'p%x', 'pa/w', 'p\\\\/v', 'P%/x', 'q/p%/x']) expect(await store().findAsset('pre', p), p).not.toBeNull();
        for (const p of ['p%/x', 'p%/y/z', 'p_/w', 'p\\/v']) expect(await store().findAsset('pre', p), p).toBeNull();
        expect(await store().findAsset('other', 'p%/x')).not.toBeNull();
        // The rows resolved are the rows that were there.
        const rest = await store().deleteAssetsByPrefix('pre', '');
        expect(rest.map((r) => r.path).sort()).toEqual(['P%/x', 'p%x', 'p\\\\/v', 'pX/z', 'pa/w', 'q/p%/x'].sort());
        expect(rest.every((r) => r.repository === 'pre' && typeof r.id === 'number' && r.size === 10)).toBe(true);
        expect(await store().findAsset('other', 'p%/x')).not.toBeNull();
      });

      it('deletes many assets by prefix at once', async () => {
        for (let i = 0; i < 300; i++) await store().saveAsset(asset('many', `dir/${String(i).padStart(3, '0')}.tgz`));
        await store().saveAsset(asset('many', 'dir2/keep.tgz'));
        expect((await store().deleteAssetsByPrefix('many', 'dir/')).length).toBe(300);
        expect(await store().findAsset('many', 'dir/150.tgz')).toBeNull();
        expect((await store().deleteAssetsByPrefix('many', '')).map((r) => r.path)).toEqual(['dir2/keep.tgz']);
      });

      it('knows whether any repository still references a blob (per storage)', async () => {
        const blob = 'sha256/ab/cd/abcd';
        expect(await store().blobInUse('default', blob)).toBe(false);
        await store().saveAsset(asset('one', 'x.tgz', { blobKey: blob }));
        await store().saveAsset(asset('two', 'y/x.tgz', { blobKey: blob }));
        expect(await store().blobInUse('default', blob)).toBe(true);
        expect(await store().blobInUse('elsewhere', blob)).toBe(false);
        expect(await store().blobInUse('default', 'sha256/ab/cd/abc')).toBe(false);
        await store().deleteAsset('one', 'x.tgz');
        expect(await store().blobInUse('default', blob)).toBe(true);
        // Replacing the last reference with another blob releases it.
        await store().saveAsset(asset('two', 'y/x.tgz', { blobKey: 'sha256/ef/01/ef01' }));
        expect(await store().blobInUse('default', blob)).toBe(false);
        expect(await store().blobInUse('default', 'sha256/ef/01/ef01')).toBe(true);
      });

      it('reads its own writes at once, even with reads racing the writes', async () => {
        const s = store();
        await s.saveAsset(asset('race', 'x', { blobKey: 'sha256/00/00/v0' }));
        expect((await s.findAsset('race', 'x'))?.blobKey).toBe('sha256/00/00/v0');
        for (let i = 1; i <= 10; i++) {
          const write = s.saveAsset(asset('race', 'x', { blobKey: `sha256/00/00/v${i}` }));
          const reads = Array.from({ length: 5 }, () => s.findAsset('race', 'x'));
          await Promise.all([write, ...reads]);
          expect((await s.findAsset('race', 'x'))?.blobKey).toBe(`sha256/00/00/v${i}`);
          const update = s.updateAsset('race', 'x', { lastDownloadedAt: i });
          const moreReads = Array.from({ length: 5 }, () => s.findAsset('race', 'x'));
          await Promise.all([update, ...moreReads]);
          expect((await s.findAsset('race', 'x'))?.lastDownloadedAt).toBe(i);
        }
        const remove = s.deleteAsset('race', 'x');
        const last = Array.from({ length: 5 }, () => s.findAsset('race', 'x'));
        await Promise.all([remove, ...last]);
        expect(await s.findAsset('race', 'x')).toBeNull();
      });

      it('shows changes to uncached (non-content) rows to other nodes at once', async () => {
        const other = await open();
        await store().saveAsset(asset('r', 'index.json', { kind: 'metadata', blobKey: 'sha256/00/00/one' }));
        expect((await other.findAsset('r', 'index.json'))?.blobKey).toBe('sha256/00/00/one');
        await store().saveAsset(asset('r', 'index.json', { kind: 'metadata', blobKey: 'sha256/00/00/two' }));
        expect((await other.findAsset('r', 'index.json'))?.blobKey).toBe('sha256/00/00/two');
        await store().deleteAsset('r', 'index.json');
        expect(await other.findAsset('r', 'index.json')).toBeNull();
      });

      it('saves many paths concurrently from one store, each once', async () => {
        const paths = Array.from({ length: 20 }, (_, i) => `concurrent/${i}.tgz`);
        await store().saveAsset(asset('c', paths[0]!, { blobKey: 'sha256/00/00/before' }));
        const results = await Promise.all(paths.map((p, i) => store().saveAsset(asset('c', p, { size: i }))));
        expect(results[0]?.blobKey).toBe('sha256/00/00/before');
        expect(results.slice(1)).toEqual(paths.slice(1).map(() => null));
        const other = await open();
        for (const [i, p] of paths.entries()) expect((await other.findAsset('c', p))?.size).toBe(i);
        // And with deletes and bookkeeping updates interleaved.
        await Promise.all(paths.map((p, i) => (i % 2 ? store().deleteAsset('c', p) : store().updateAsset('c', p, { lastDownloadedAt: i }))));
        const left = await other.deleteAssetsByPrefix('c', 'concurrent/');
        expect(left.map((r) => [r.path, r.lastDownloadedAt]).sort()).toEqual(paths.flatMap((p, i) => (i % 2 ? [] : [[p, i]])).sort());
      });

      it('leaves exactly one complete row when nodes save one path concurrently', async () => {
        const stores = [store(), await open(), await open()];
        const writes = Array.from({ length: 9 }, (_, i) =>
          stores[i % stores.length]!.saveAsset(asset('c', 'same', { blobKey: `sha256/00/00/w${i}`, size: 1_000 + i, sha1: `sha1-${i}` })),
        );
        const results = await Promise.allSettled(writes);
        expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
        const rows = await (await open()).deleteAssetsByPrefix('c', '');
        expect(rows.length).toBe(1);
        const i = Number(rows[0]!.blobKey.slice('sha256/00/00/w'.length));
        expect(results[i]!.status).toBe('fulfilled');
        expect(rows[0]).toMatchObject({ path: 'same', size: 1_000 + i, sha1: `sha1-${i}` });
      });
    });

    describe('failed writes leave nothing partial', () => {
      it('a refused replacement keeps the old asset whole', async () => {
        await store().saveAsset(asset('f', 'a', { blobKey: 'sha256/00/00/old', size: 1 }));
        await expect(store().saveAsset(asset('f', 'a', { blobKey: 'sha256/00/00/new', size: 2, kind: NOT_NULL_VIOLATION }))).rejects.toThrow();
        const other = await open();
        for (const s of [store(), other]) expect(await s.findAsset('f', 'a')).toMatchObject({ blobKey: 'sha256/00/00/old', size: 1, kind: 'content' });
        expect(await store().blobInUse('default', 'sha256/00/00/new')).toBe(false);
      });

      it('a refused new asset leaves no row', async () => {
        await expect(store().saveAsset(asset('f', 'b', { sha256: NOT_NULL_VIOLATION }))).rejects.toThrow();
        expect(await store().findAsset('f', 'b')).toBeNull();
        expect(await store().deleteAssetsByPrefix('f', '')).toEqual([]);
        // The store is still usable.
        expect(await store().saveAsset(asset('f', 'b'))).toBeNull();
      });

      it('a refused update of some columns changes none of them', async () => {
        await store().saveAsset(asset('f', 'c', { lastDownloadedAt: 5 }));
        await expect(store().updateAsset('f', 'c', { lastDownloadedAt: 6, contentType: NOT_NULL_VIOLATION })).rejects.toThrow();
        expect(await (await open()).findAsset('f', 'c')).toMatchObject({ lastDownloadedAt: 5, contentType: 'application/octet-stream' });
      });

      it('a document change that throws writes nothing and releases the key', async () => {
        await store().updateDocument('f', 'doc', async () => 'v1');
        const failure = new Error('change failed');
        await expect(store().updateDocument('f', 'doc', async () => { throw failure; })).rejects.toBe(failure);
        expect(await store().getDocument('f', 'doc')).toMatchObject({ value: 'v1', revision: 1 });
        await expect(store().updateDocument('f', 'new', async () => { throw failure; })).rejects.toBe(failure);
        expect(await store().getDocument('f', 'new')).toBeNull();
        // Neither this node nor another is left waiting on the key.
        const other = await open();
        const next = other.updateDocument('f', 'doc', async (c) => `${c!.value}+v2`);
        expect(await settlesWithin(next, 5_000)).toBe(true);
        expect((await next)?.revision).toBe(2);
        expect(await settlesWithin(store().updateDocument('f', 'doc', async (c) => `${c!.value}+v3`), 5_000)).toBe(true);
        expect((await other.getDocument('f', 'doc'))?.value).toBe('v1+v2+v3');
      });

      it('refused component, key-value and audit writes leave the previous rows', async () => {
        await store().upsertComponent(component('f', 'pkg', '1.0.0', 1));
        await expect(store().upsertComponent({ ...component('f', 'pkg', '1.0.0', 2), attributes: NOT_NULL_VIOLATION })).rejects.toThrow();
        expect(await store().componentVersions('f', 'pkg')).toEqual([component('f', 'pkg', '1.0.0', 1)]);
        await store().setValue('ns', 'k', 'kept');
        await expect(store().setValue('ns', 'k', NOT_NULL_VIOLATION)).rejects.toThrow();
        expect(await store().getValue('ns', 'k')).toBe('kept');
        await expect(store().audit.insert({ at: 1, action: 'x', outcome: 'ok', principal: NOT_NULL_VIOLATION, repository: null, package: null, version: null, clientAddress: null, details: '{}' })).rejects.toThrow();
        expect(await store().audit.find({ where: { action: 'x' } })).toEqual([]);
      });
    });

    describe('negative cache', () => {
      it('remembers a miss until it expires, per repository and path', async () => {
        expect(await store().isNegativeCached('n', 'missing', 0)).toBe(false);
        await store().setNegativeCached('n', 'missing', 2_000);
        expect(await store().isNegativeCached('n', 'missing', 1_999)).toBe(true);
        expect(await store().isNegativeCached('n', 'missing', 2_000)).toBe(false);
        expect(await store().isNegativeCached('n', 'missing', 3_000)).toBe(false);
        expect(await store().isNegativeCached('other', 'missing', 1_000)).toBe(false);
        expect(await store().isNegativeCached('n', 'Missing', 1_000)).toBe(false);
        expect(await (await open()).isNegativeCached('n', 'missing', 1_000)).toBe(true);
      });

      it('a new expiry replaces the old one, later or earlier', async () => {
        await store().setNegativeCached('n', 'p', 2_000);
        await store().setNegativeCached('n', 'p', 5_000);
        expect(await store().isNegativeCached('n', 'p', 4_000)).toBe(true);
        await store().setNegativeCached('n', 'p', 1_000);
        expect(await store().isNegativeCached('n', 'p', 1_500)).toBe(false);
      });

      it('forgets a miss when cleared', async () => {
        await store().setNegativeCached('n', 'p', 5_000);
        await store().setNegativeCached('n', 'q', 5_000);
        await store().clearNegativeCached('n', 'p');
        await store().clearNegativeCached('n', 'never-set');
        expect(await store().isNegativeCached('n', 'p', 1_000)).toBe(false);
        expect(await store().isNegativeCached('n', 'q', 1_000)).toBe(true);
      });

      it('purges the expired entries only', async () => {
        const now = 1_800_000_000_000;
        await store().setNegativeCached('n', 'old', now - 1);
        await store().setNegativeCached('m', 'older', now - 60_000);
        await store().setNegativeCached('n', 'fresh', now + 60_000);
        await store().purgeExpiredNegatives(now);
        // Asked as of a time before their expiry, the purged entries are gone for good.
        expect(await store().isNegativeCached('n', 'old', 0)).toBe(false);
        expect(await store().isNegativeCached('m', 'older', 0)).toBe(false);
        expect(await store().isNegativeCached('n', 'fresh', now)).toBe(true);
      });
    });

    describe('documents', () => {
      it('creates, reads and updates a document with increasing revisions', async () => {
        expect(await store().getDocument('d', 'pkg')).toBeNull();
        const before = Date.now();
        const first = await store().updateDocument('d', 'pkg', async (current) => {
          expect(current).toBeNull();
          return '{"v":1}';
        });
        const after = Date.now();
        expect(first).toEqual({ repository: 'd', key: 'pkg', value: '{"v":1}', revision: 1, updatedAt: expect.any(Number) });
        expect(first!.updatedAt).toBeGreaterThanOrEqual(before);
        expect(first!.updatedAt).toBeLessThanOrEqual(after);
        expect(await store().getDocument('d', 'pkg')).toEqual(first);
        const second = await store().updateDocument('d', 'pkg', async (current) => {
          expect(current).toEqual(first);
          return '{"v":2}';
        });
        expect(second).toMatchObject({ value: '{"v":2}', revision: 2 });
        expect(await (await open()).getDocument('d', 'pkg')).toEqual(second);
        expect(await store().getDocument('d2', 'pkg')).toBeNull();
        expect(await store().getDocument('d', 'PKG')).toBeNull();
      });

      it('keeps a document when the change resolves undefined, deletes it on null', async () => {
        const first = await store().updateDocument('d', 'k', async () => 'one');
        expect(await store().updateDocument('d', 'k', async () => undefined)).toEqual(first);
        expect(await store().getDocument('d', 'k')).toEqual(first);
        expect(await store().updateDocument('d', 'missing', async () => undefined)).toBeNull();
        expect(await store().getDocument('d', 'missing')).toBeNull();
        expect(await store().updateDocument('d', 'k', async () => null)).toBeNull();
        expect(await store().getDocument('d', 'k')).toBeNull();
        expect(await store().updateDocument('d', 'missing', async () => null)).toBeNull();
        // Created again, it starts over.
        expect(await store().updateDocument('d', 'k', async (c) => (c === null ? 'again' : 'stale'))).toMatchObject({ value: 'again', revision: 1 });
      });

      it('deletes a document, telling whether there was one', async () => {
        await store().updateDocument('d', 'x', async () => 'x');
        expect(await store().deleteDocument('d', 'x')).toBe(true);
        expect(await store().deleteDocument('d', 'x')).toBe(false);
        expect(await store().getDocument('d', 'x')).toBeNull();
      });

      it('serialises concurrent changes of one key in one store: no update is lost', async () => {
        const bump = () => store().updateDocument('d', 'counter', async (c) => {
          const n = Number(c?.value ?? '0');
          await sleep(1);
          return String(n + 1);
        });
        const results = await Promise.all(Array.from({ length: 20 }, bump));
        expect(results.map((r) => r!.revision).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect(await store().getDocument('d', 'counter')).toMatchObject({ value: '20', revision: 20 });
      });

      it('never loses an update made concurrently by several stores on one database', async () => {
        const stores = [store(), await open(), await open()];
        const attempts = 24;
        const results = await Promise.allSettled(
          Array.from({ length: attempts }, (_, i) =>
            stores[i % stores.length]!.updateDocument('d', 'shared', async (c) => {
              const n = Number(c?.value ?? '0');
              await sleep(2);
              return String(n + 1);
            }),
          ),
        );
        const landed = results.filter((r) => r.status === 'fulfilled').length;
        // Every update that resolved is counted once; a refused one is a 409 to retry.
        // Several nodes (cluster locks) wait for each other, so all of them land.
        expect(await stores[1]!.getDocument('d', 'shared')).toMatchObject({ value: String(landed), revision: landed });
        for (const r of results) {
          if (r.status === 'rejected') expect(r.reason).toMatchObject({ status: 409, message: expect.stringMatching(/changed concurrently/) });
        }
        if (multiNode()) expect(landed).toBe(attempts);
        else expect(landed).toBeGreaterThan(0);
      });

      it('never loses a delete racing updates from another store', async () => {
        const other = await open();
        await store().updateDocument('d', 'del', async () => '0');
        const ops = await Promise.allSettled([
          store().updateDocument('d', 'del', async (c) => (c ? `${c.value}+a` : 'fresh-a')),
          other.updateDocument('d', 'del', async () => null),
          store().updateDocument('d', 'del', async (c) => (c ? `${c.value}+b` : 'fresh-b')),
        ]);
        const final = await other.getDocument('d', 'del');
        // Whatever the order, the final state is what some serial order of the landed changes gives.
        const landed = ops.map((o) => o.status === 'fulfilled');
        if (final === null) expect(landed[1]).toBe(true);
        else expect(final.value).toMatch(/^(0|fresh-a|fresh-b)(\+a|\+b)*$/);
        if (multiNode()) expect(landed).toEqual([true, true, true]);
      });
    });

    describe('components', () => {
      it('upserts versions by (repository, name, version) and lists them oldest first', async () => {
        await store().upsertComponent(component('c', 'left-pad', '1.1.0', 1_700_000_000_002));
        await store().upsertComponent(component('c', 'left-pad', '1.0.0', 1_700_000_000_001));
        await store().upsertComponent(component('c', 'left-pad', '2.0.0', 1_700_000_000_003));
        await store().upsertComponent(component('other', 'left-pad', '9.0.0', 1));
        const replaced = { ...component('c', 'left-pad', '1.0.0', 1_700_000_000_004), searchText: 'left-pad padding', attributes: '{"deprecated":true}' };
        await store().upsertComponent(replaced);
        expect(await store().componentVersions('c', 'left-pad')).toEqual([
          component('c', 'left-pad', '1.1.0', 1_700_000_000_002),
          component('c', 'left-pad', '2.0.0', 1_700_000_000_003),
          replaced,
        ]);
        expect(await store().componentVersions('c', 'missing')).toEqual([]);
        expect((await store().componentVersions('other', 'left-pad')).map((r) => r.version)).toEqual(['9.0.0']);
      });

      it('removes one version or all versions, counting them', async () => {
        for (const v of ['1.0.0', '1.1.0', '2.0.0']) await store().upsertComponent(component('c', 'pkg', v, Number(v[0])));
        await store().upsertComponent(component('c', 'pkg2', '1.0.0', 1));
        expect(await store().removeComponents('c', 'pkg', '1.1.0')).toBe(1);
        expect(await store().removeComponents('c', 'pkg', '1.1.0')).toBe(0);
        expect((await store().componentVersions('c', 'pkg')).map((r) => r.version)).toEqual(['1.0.0', '2.0.0']);
        expect(await store().removeComponents('c', 'pkg')).toBe(2);
        expect(await store().componentVersions('c', 'pkg')).toEqual([]);
        expect(await store().removeComponents('c', 'pkg')).toBe(0);
        expect((await store().componentVersions('c', 'pkg2')).length).toBe(1);
      });

      it('searches one hit per name (its newest version), by name, with a total', async () => {
        await store().upsertComponent(component('s', 'b-left-pad', '1.0.0', 10, 'b-left-pad padding'));
        await store().upsertComponent(component('s', 'b-left-pad', '1.1.0', 30, 'b-left-pad padding'));
        await store().upsertComponent(component('s', 'b-left-pad', '0.9.0', 20, 'b-left-pad padding'));
        await store().upsertComponent(component('s', 'c-right-pad', '1.0.0', 5, 'c-right-pad padding'));
        await store().upsertComponent(component('s', 'a-pad', '3.0.0', 7, 'a-pad'));
        await store().upsertComponent(component('s', 'd-unrelated', '1.0.0', 8));
        await store().upsertComponent(component('t', 'e-pad-elsewhere', '1.0.0', 9));
        const hits = await store().searchComponents('s', 'pad', 0, 10);
        expect(hits.total).toBe(3);
        expect(hits.rows.map((r) => `${r.name}@${r.version}`)).toEqual(['a-pad@3.0.0', 'b-left-pad@1.1.0', 'c-right-pad@1.0.0']);
        expect(hits.rows[1]).toEqual(component('s', 'b-left-pad', '1.1.0', 30, 'b-left-pad padding'));
        // Upper-case search text finds lower-case index text.
        expect((await store().searchComponents('s', 'LEFT', 0, 10)).rows.map((r) => r.name)).toEqual(['b-left-pad']);
        // The empty text matches every name of the repository.
        expect((await store().searchComponents('s', '', 0, 10)).total).toBe(4);
        expect(await store().searchComponents('s', 'zzz', 0, 10)).toEqual({ total: 0, rows: [] });
        expect(await store().searchComponents('nowhere', '', 0, 10)).toEqual({ total: 0, rows: [] });
      });

      it('pages search results with offset and limit, the total counting every page', async () => {
        const names = Array.from({ length: 23 }, (_, i) => `pkg-${String.fromCharCode(97 + i)}`);
        for (const [i, n] of names.entries()) {
          await store().upsertComponent(component('p', n, '1.0.0', i));
          await store().upsertComponent(component('p', n, '2.0.0', 100 + i));
        }
        const seen: string[] = [];
        for (let offset = 0; offset < 30; offset += 5) {
          const page = await store().searchComponents('p', 'pkg', offset, 5);
          expect(page.total).toBe(23);
          expect(page.rows.length).toBe(Math.max(0, Math.min(5, 23 - offset)));
          for (const r of page.rows) expect(r.version).toBe('2.0.0');
          seen.push(...page.rows.map((r) => r.name));
        }
        expect(seen).toEqual(names);
        expect((await store().searchComponents('p', 'pkg', 22, 100)).rows.map((r) => r.name)).toEqual(['pkg-w']);
        expect((await store().searchComponents('p', 'pkg', 100, 5)).rows).toEqual([]);
      });

      it('takes %, _ and \\ in the search text literally', async () => {
        await store().upsertComponent(component('w', 'a-50%_off', '1.0.0', 1, 'a-50%_off'));
        await store().upsertComponent(component('w', 'b-50x-off', '1.0.0', 2, 'b-50x-off'));
        await store().upsertComponent(component('w', 'c-50-off', '1.0.0', 3, 'c-50-off'));
        await store().upsertComponent(component('w', 'd-back\\slash', '1.0.0', 4, 'd-back\\slash'));
        await store().upsertComponent(component('w', 'e-backslash', '1.0.0', 5, 'e-backslash'));
        const names = async (text: string) => (await store().searchComponents('w', text, 0, 10)).rows.map((r) => r.name);
        expect(await names('%')).toEqual(['a-50%_off']);
        expect(await names('_')).toEqual(['a-50%_off']);
        expect(await names('50%_')).toEqual(['a-50%_off']);
        expect(await names('50_')).toEqual([]);
        expect(await names('k\\s')).toEqual(['d-back\\slash']);
        expect(await names('\\')).toEqual(['d-back\\slash']);
        expect((await store().searchComponents('w', '%', 0, 10)).total).toBe(1);
      });
    });

    describe('key-values', () => {
      it('sets, replaces, reads and deletes values per namespace', async () => {
        expect(await store().getValue('ns', 'k')).toBeUndefined();
        await store().setValue('ns', 'k', 'one');
        await store().setValue('ns', 'k', 'two');
        await store().setValue('ns2', 'k', 'elsewhere');
        await store().setValue('ns', 'empty', '');
        expect(await store().getValue('ns', 'k')).toBe('two');
        expect(await store().getValue('ns2', 'k')).toBe('elsewhere');
        expect(await store().getValue('ns', 'empty')).toBe('');
        expect(await store().getValue('ns', 'K')).toBeUndefined();
        expect(await (await open()).getValue('ns', 'k')).toBe('two');
        expect(await store().deleteValue('ns', 'k')).toBe(true);
        expect(await store().deleteValue('ns', 'k')).toBe(false);
        expect(await store().getValue('ns', 'k')).toBeUndefined();
        expect(await store().getValue('ns2', 'k')).toBe('elsewhere');
      });

      it('round-trips a large value', async () => {
        const value = JSON.stringify({ text: 'x\u00e9\u{1f600}'.repeat(100_000) });
        await store().setValue('big', 'v', value);
        expect(await (await open()).getValue('big', 'v')).toBe(value);
      });
    });

    describe('audit log', () => {
      it('appends events with increasing ids and reads them back exactly', async () => {
        const event = (i: number): Omit<MetadataAuditEventRow, 'id'> => ({
          at: 1_800_000_000_000 + i,
          action: i % 2 ? 'publish' : 'unpublish',
          outcome: 'ok',
          principal: 'amy',
          repository: 'npm-\u00fcber',
          package: '@scope/p\u00e4ckage',
          version: `1.0.${i}`,
          clientAddress: '2001:db8::1',
          details: JSON.stringify({ i, note: '\u{1f4e6} \u540d\u524d' }),
        });
        for (let i = 0; i < 5; i++) await store().audit.insert(event(i));
        await store().audit.insert({ at: 0, action: 'login', outcome: 'failed', principal: 'bob', repository: null, package: null, version: null, clientAddress: null, details: '{}' });
        const rows = await store().audit.find({ where: { principal: 'amy' }, order: { id: 'ASC' } });
        expect(rows.map(({ id: _id, ...rest }) => rest)).toEqual(Array.from({ length: 5 }, (_, i) => event(i)));
        for (let i = 1; i < rows.length; i++) expect(rows[i]!.id!).toBeGreaterThan(rows[i - 1]!.id!);
        expect(await (await open()).audit.find({ where: { principal: 'bob' } })).toEqual([
          { id: expect.any(Number), at: 0, action: 'login', outcome: 'failed', principal: 'bob', repository: null, package: null, version: null, clientAddress: null, details: '{}' },
        ]);
      });
    });

    describe('cluster locks', () => {
      it('runs the work and resolves its value; rethrows its error', async () => {
        expect(await store().withClusterLock('k', async () => 42)).toBe(42);
        const failure = new Error('work failed');
        await expect(store().withClusterLock('k', async () => { throw failure; })).rejects.toBe(failure);
        expect(await store().withClusterLock('k', async () => 'again')).toBe('again');
      });

      it('lets another node take a lock once the work that held it has thrown', async () => {
        const other = await open();
        await expect(store().withClusterLock('thrown', async () => { throw new Error('boom'); })).rejects.toThrow('boom');
        const taken = other.acquireClusterLock('thrown');
        expect(await settlesWithin(taken, 5_000)).toBe(true);
        await (await taken)();
      });

      it('excludes other nodes while held, until released (several nodes), or resolves at once (one node)', async () => {
        const other = await open();
        const release = await store().acquireClusterLock('exclusive');
        const waiting = other.acquireClusterLock('exclusive');
        if (multiNode()) {
          expect(await settlesWithin(waiting, 500)).toBe(false);
          // Another key is free meanwhile.
          const free = other.acquireClusterLock('another key');
          expect(await settlesWithin(free, 5_000)).toBe(true);
          await (await free)();
          await release();
          expect(await settlesWithin(waiting, 5_000)).toBe(true);
        } else {
          expect(await settlesWithin(waiting, 5_000)).toBe(true);
          await release();
        }
        await (await waiting)();
      });

      it('gives mutual exclusion to work across nodes (several nodes)', async () => {
        const stores = [store(), await open(), await open(), await open()];
        let inside = 0;
        let most = 0;
        let done = 0;
        // One holder per node at a time: a node must not take one key twice (its
        // in-process locks come first), so each node runs its turns one after another.
        await Promise.all(
          stores.map(async (s) => {
            for (let turn = 0; turn < 3; turn++) {
              await s.withClusterLock('critical', async () => {
                inside++;
                most = Math.max(most, inside);
                await sleep(10);
                inside--;
                done++;
              });
            }
          }),
        );
        expect(done).toBe(12);
        if (multiNode()) expect(most).toBe(1);
        else expect(most).toBeGreaterThanOrEqual(1);
      });

      it('a release is idempotent and frees the lock for others', async () => {
        const other = await open();
        const release = await store().acquireClusterLock('idem');
        await release();
        await release();
        const again = await other.acquireClusterLock('idem');
        // A second release of the first holder must not free the lock the other node holds now.
        await release();
        if (multiNode()) expect(await settlesWithin(store().acquireClusterLock('idem').then((r) => r()), 500)).toBe(false);
        await again();
        if (multiNode()) expect(await settlesWithin(store().acquireClusterLock('idem').then((r) => r()), 5_000)).toBe(true);
      });

      it('frees the locks of a node that closes (several nodes)', async () => {
        const other = await open();
        await other.acquireClusterLock('dies');
        await other.close();
        opened = opened.filter((s) => s !== other);
        const taken = store().acquireClusterLock('dies');
        expect(await settlesWithin(taken, 5_000)).toBe(true);
        await (await taken)();
      });
    });

    describe('change notifications', () => {
      it('tells listeners which repository changed, for every asset and document change', async () => {
        const seen: string[] = [];
        store().onChange((repository) => seen.push(repository));
        const expectSeen = (repository: string) => {
          expect(seen, repository).toContain(repository);
          seen.length = 0;
        };
        await store().saveAsset(asset('save', 'a'));
        expectSeen('save');
        await store().saveAsset(asset('save', 'a', { size: 2 }));
        expectSeen('save');
        await store().deleteAsset('save', 'a');
        expectSeen('save');
        await store().saveAsset(asset('row', 'b'));
        seen.length = 0;
        await store().deleteAssetRow((await store().findAsset('row', 'b'))!);
        expectSeen('row');
        await store().saveAsset(asset('prefix', 'c/1'));
        seen.length = 0;
        await store().deleteAssetsByPrefix('prefix', 'c/');
        expectSeen('prefix');
        await store().updateDocument('doc', 'k', async () => 'v');
        expectSeen('doc');
        await store().updateDocument('doc2', 'k', async () => 'v');
        seen.length = 0;
        await store().updateDocument('doc2', 'k', async () => null);
        expectSeen('doc2');
        await store().updateDocument('doc3', 'k', async () => 'v');
        seen.length = 0;
        await store().deleteDocument('doc3', 'k');
        expectSeen('doc3');
        expect(new Set(seen).size).toBe(0);
      });

      it('is silent for bookkeeping, unchanged documents, other nodes and removed listeners', async () => {
        await store().saveAsset(asset('r', 'a'));
        await store().updateDocument('r', 'k', async () => 'v');
        const other = await open();
        const seen: string[] = [];
        const stop = store().onChange((repository) => seen.push(repository));
        await store().updateAsset('r', 'a', { lastDownloadedAt: 5 });
        await store().updateDocument('r', 'k', async () => undefined);
        await other.saveAsset(asset('r', 'b'));
        await other.updateDocument('r', 'k', async () => 'w');
        expect(seen).toEqual([]);
        stop();
        await store().saveAsset(asset('r', 'c'));
        await store().deleteAsset('r', 'a');
        expect(seen).toEqual([]);
      });

      it('tells listeners after the change, so what they read then is new', async () => {
        await store().saveAsset(asset('n', 'a', { blobKey: 'sha256/00/00/old' }));
        await store().updateDocument('n', 'doc', async () => 'old');
        const reads: Promise<unknown>[] = [];
        let phase = 'asset';
        store().onChange(() => {
          reads.push(phase === 'asset' ? store().findAsset('n', 'a').then((r) => r?.blobKey) : store().getDocument('n', 'doc').then((r) => r?.value ?? null));
        });
        await store().saveAsset(asset('n', 'a', { blobKey: 'sha256/00/00/new' }));
        expect(await Promise.all(reads)).toEqual(reads.map(() => 'sha256/00/00/new'));
        reads.length = 0;
        await store().deleteAsset('n', 'a');
        expect(await Promise.all(reads)).toEqual(reads.map(() => undefined));
        expect(await store().findAsset('n', 'a')).toBeNull();
        phase = 'document';
        reads.length = 0;
        await store().updateDocument('n', 'doc', async () => 'new');
        expect(await Promise.all(reads)).toEqual(reads.map(() => 'new'));
        reads.length = 0;
        await store().deleteDocument('n', 'doc');
        expect(await Promise.all(reads)).toEqual(reads.map(() => null));
      });
    });

    describe('text and numbers round-trip exactly', () => {
      const unicode = [
        '\u00fcber/caf\u00e9/\u540d\u524d/\u0645\u0631\u062d\u0628\u0627/\u{1f4e6}\u{1f600}/e\u0301/\u00a0nbsp/\u200dzwj',
        "quote'\"`/semi;colon/dollar$1/percent%25/plus+/hash#/q?x=1&y=2/back\\slash/tab\tnewline\n",
        '\u{10ffff}\u{1f3f3}\u{fe0f}\u{200d}\u{1f308}/\ufeffbom/\u{1d11e}',
      ];

      it('keeps Unicode and odd characters in repositories, paths, keys and values byte for byte', async () => {
        for (const [i, text] of unicode.entries()) {
          // Cut by code points, never inside a surrogate pair.
          const head = (n: number) => Array.from(text).slice(0, n).join('');
          const repository = `r\u00e9po-${i}-\u{1f4e6}`;
          const row = asset(repository, text, { attributes: JSON.stringify({ text }), contentType: `text/plain; name="${head(20)}"`, upstreamEtag: `"${head(30)}"` });
          await store().saveAsset(row);
          const found = await (await open()).findAsset(repository, text);
          expect(found).toEqual({ ...row, id: expect.any(Number) });
          expect(Buffer.from(found!.path).equals(Buffer.from(text))).toBe(true);
          await store().updateDocument(repository, text, async () => text.repeat(3));
          expect(await store().getDocument(repository, text)).toMatchObject({ repository, key: text, value: text.repeat(3) });
          await store().setValue(text, text, text);
          expect(await store().getValue(text, text)).toBe(text);
          await store().setNegativeCached(repository, text, 10);
          expect(await store().isNegativeCached(repository, text, 5)).toBe(true);
          await store().upsertComponent(component(repository, text, head(50), 1, text.toLowerCase()));
          expect(await store().componentVersions(repository, text)).toEqual([component(repository, text, head(50), 1, text.toLowerCase())]);
          expect((await store().searchComponents(repository, head(12), 0, 5)).rows.map((r) => r.name)).toEqual([text]);
          expect((await store().deleteAssetsByPrefix(repository, head(15))).map((r) => r.path)).toEqual([text]);
        }
      });

      it('keeps names at their longest: 128-character repositories, 1024-character paths and keys', async () => {
        const repository = `r-${'\u00e9'.repeat(63)}${'x'.repeat(63)}`;
        expect(repository.length).toBe(128);
        const longPath = `${'dir/'.repeat(200)}${'\u00fc'.repeat(100)}${'f'.repeat(124)}`;
        expect(longPath.length).toBe(1024);
        await store().saveAsset(asset(repository, longPath));
        expect((await (await open()).findAsset(repository, longPath))?.path).toBe(longPath);
        expect(await store().findAsset(repository, longPath.slice(0, -1))).toBeNull();
        await store().updateDocument(repository, longPath, async () => 'v');
        expect((await store().getDocument(repository, longPath))?.key).toBe(longPath);
        await store().setValue('ns', longPath, 'v');
        expect(await store().getValue('ns', longPath)).toBe('v');
        await store().setNegativeCached(repository, longPath, 10);
        expect(await store().isNegativeCached(repository, longPath, 5)).toBe(true);
        const longName = `@${'n'.repeat(200)}/${'\u00e4'.repeat(310)}`;
        expect(longName.length).toBe(512);
        await store().upsertComponent(component(repository, longName, `1.0.0-${'b'.repeat(250)}`, 1));
        expect((await store().componentVersions(repository, longName))[0]?.version).toBe(`1.0.0-${'b'.repeat(250)}`);
        expect((await store().deleteAssetsByPrefix(repository, longPath.slice(0, 900))).length).toBe(1);
      });

      it('refuses longer paths and keys, and NUL, alike on every engine (400), storing nothing', async () => {
        const repository = 'too-long';
        // 1025 characters, counted as PostgreSQL counts them (code points, not UTF-16 units).
        const tooLong = `${'\u{1f4e6}'.repeat(4)}${'x'.repeat(1021)}`;
        for (const attempt of [
          () => store().saveAsset(asset(repository, tooLong)),
          () => store().saveAsset(asset(repository, 'nul\u0000byte')),
          () => store().updateDocument(repository, tooLong, async () => 'v'),
          () => store().setValue('ns', tooLong, 'v'),
          () => store().setNegativeCached(repository, tooLong, 10),
        ]) {
          await expect(attempt()).rejects.toMatchObject({ status: 400 });
        }
        expect(await store().findAsset(repository, tooLong)).toBeNull();
        expect(await store().getDocument(repository, tooLong)).toBeNull();
        // Exactly 1024 code points with characters outside the BMP is still fine.
        const longest = tooLong.slice(0, -1);
        await store().saveAsset(asset(repository, longest));
        expect((await store().findAsset(repository, longest))?.path).toBe(longest);
      });

      it('keeps sizes past 2^32 and millisecond timestamps exactly, up to 2^53 - 1', async () => {
        const sizes = [2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 5 * GiB + 7, 2 ** 53 - 1, 0];
        for (const [i, size] of sizes.entries()) {
          const t = 4_102_444_800_000 + i; // 2100-01-01 plus i ms
          await store().saveAsset(asset('big', `f${i}`, { size, createdAt: t, updatedAt: t + 1, lastDownloadedAt: t + 2, expiresAt: 2 ** 53 - 1 - i }));
        }
        const other = await open();
        for (const [i, size] of sizes.entries()) {
          const t = 4_102_444_800_000 + i;
          for (const s of [store(), other]) {
            expect(await s.findAsset('big', `f${i}`)).toMatchObject({ size, createdAt: t, updatedAt: t + 1, lastDownloadedAt: t + 2, expiresAt: 2 ** 53 - 1 - i });
          }
        }
        const rows = await store().deleteAssetsByPrefix('big', '');
        expect(rows.map((r) => r.size).sort((a, b) => a - b)).toEqual([...sizes].sort((a, b) => a - b));
        for (const r of rows) {
          expect(typeof r.size).toBe('number');
          expect(typeof r.createdAt).toBe('number');
        }
        await store().setNegativeCached('big', 'n', 2 ** 53 - 1);
        expect(await store().isNegativeCached('big', 'n', 2 ** 53 - 2)).toBe(true);
        await store().purgeExpiredNegatives(2 ** 53 - 2);
        expect(await store().isNegativeCached('big', 'n', 2 ** 53 - 2)).toBe(true);
        await store().upsertComponent(component('big', 'c', '1', 4_102_444_800_001));
        await store().upsertComponent(component('big', 'c', '2', 4_102_444_800_000));
        expect(await store().componentVersions('big', 'c')).toEqual([component('big', 'c', '2', 4_102_444_800_000), component('big', 'c', '1', 4_102_444_800_001)]);
        await store().audit.insert({ at: 4_102_444_800_123, action: 'a', outcome: 'ok', principal: 'p', repository: null, package: null, version: null, clientAddress: null, details: '{}' });
        expect((await store().audit.find({ where: { principal: 'p' } }))[0]?.at).toBe(4_102_444_800_123);
        const doc = await store().updateDocument('big', 'd', async () => 'v');
        expect(typeof doc!.updatedAt).toBe('number');
        expect((await other.getDocument('big', 'd'))?.updatedAt).toBe(doc!.updatedAt);
      });
    });
  });
}
