import { randomUUID } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  ConflictError,
  PayloadTooLargeError,
  type Asset,
  type AssetStore,
  type ByteRange,
  type DigestAlgorithm,
  type PutAssetOptions,
} from '@registry-core/api';
import type { AssetRow } from '../metadata/entities.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { BlobStore, IngestedBlob } from './blob-store.js';
import { HashingStream, type KnownDigests } from './hashing.js';
import { crashPoint } from './crash-points.js';
import { KeyedMutex } from './keyed-mutex.js';
import { readLimited } from './read-limited.js';
import { MetadataMemory } from './metadata-memory.js';

const DEFAULT_READ_LIMIT = 64 * 1024 * 1024;
/** How long bytes replaced by a newer version stay readable (an orphan if the process stops first). */
const REPLACED_BLOB_GRACE_MS = 60_000;

/** How long a pending asset (a publish not committed) is kept before it is swept as a crash's leftover. */
export const PENDING_GRACE_MS = 3_600_000;

/** The pending assets a put resolved: their repository and token (see {@link pendingToken}). */
const pendingAssets = new WeakMap<Asset, { readonly repository: string; readonly token: string }>();

/** The token of a pending asset of `repository` as a pending put resolved it, else `undefined`. */
export function pendingToken(asset: Asset, repository: string): string | undefined {
  const pending = pendingAssets.get(asset);
  return pending?.repository === repository ? pending.token : undefined;
}

/** Where the host's assets keep their bytes, for hand-offs such as X-Accel-Redirect. */
const assetBlobs = new WeakMap<Asset, { readonly store: BlobStore; readonly blobKey: string; readonly repository: string }>();

/** The path a web server in front reads `asset`'s bytes from, when its storage offers one. */
export function internalRedirectPath(asset: Asset): string | undefined {
  const location = assetBlobs.get(asset);
  return location?.store.driver.internalRedirectPath?.(location.blobKey);
}

/**
 * For the host's hot answers: the repository an asset belongs to, and a way to get its
 * bytes again from the memory cache alone (`undefined` once evicted).
 */
export function assetMemoryRef(asset: Asset): { readonly repository: string; readonly bytes: () => Buffer | undefined } | undefined {
  const location = assetBlobs.get(asset);
  if (!location) return undefined;
  return { repository: location.repository, bytes: () => location.store.peekSmall(location.blobKey) };
}

/** Where the client downloads `asset` from instead, when its storage redirects large files. */
export async function assetRedirectUrl(asset: Asset): Promise<string | undefined> {
  const location = assetBlobs.get(asset);
  return location?.store.redirectUrl(location.blobKey, asset.size, asset.contentType);
}

/** A small asset's bytes from the memory cache (read in on first use); `undefined` for large ones. */
export async function smallAssetBytes(asset: Asset): Promise<Buffer | undefined> {
  const location = assetBlobs.get(asset);
  return location?.store.readSmall(location.blobKey, asset.size);
}

/** Extra fields the proxy cache records with an asset. */
export interface CacheFields {
  readonly expiresAt?: number | null;
  readonly upstreamEtag?: string | null;
  readonly upstreamLastModified?: string | null;
}

/**
 * One repository's assets: rows in the metadata store pointing at content-addressed
 * blobs. Blob first, then row: a crash between the two leaves an unreferenced blob,
 * never a row without bytes. An asset of a publish is stored pending (a row nobody is
 * served) and published with the format's document in one transaction
 * (`documents.update(..., { publish })`): a crash anywhere leaves the old state or the
 * new one, and a retry replaces what a crashed publish left pending.
 */
export class RepositoryAssetStore implements AssetStore {
  private readonly pathLocks = new KeyedMutex();

  constructor(
    readonly repository: string,
    /** Where new content goes: the repository's configured storage. */
    private readonly blobs: BlobStore,
    private readonly metadata: MetadataStore,
    /**
     * The store a row was written to (rows keep their storage name): after an operator
     * moves a repository to another storage, older assets are still found where they are.
     */
    private readonly storeNamed: (name: string) => BlobStore | undefined = (name) => (name === blobs.name ? blobs : undefined),
    /** The process's memory for metadata documents being parsed (readJson, withBytes); default: no budget. */
    private readonly memory: MetadataMemory = new MetadataMemory(0),
  ) {}

  private storeOf(row: AssetRow): BlobStore {
    const store = this.storeNamed(row.storage);
    if (!store) throw new Error(`${this.repository}/${row.path} is in storage "${row.storage}", which is not configured`);
    return store;
  }

  /** The published asset at `path` (a pending one is not served: `undefined`). */
  async get(path: string): Promise<Asset | undefined> {
    const row = await this.getRow(path);
    return row && !row.pending ? this.toAsset(row) : undefined;
  }

  /** The published row at `path`: what `createOnly` refuses to replace. */
  private async publishedRow(path: string): Promise<AssetRow | null> {
    const row = await this.getRow(path);
    return row && !row.pending ? row : null;
  }

  getRow(path: string): Promise<AssetRow | null> {
    return this.metadata.findAsset(this.repository, path);
  }

  toAsset(row: AssetRow): Asset {
    const blobs = this.storeOf(row);
    const asset: Asset = {
      path: row.path,
      kind: row.kind as Asset['kind'],
      size: row.size,
      // '' in a row: not computed yet (see `digest`).
      digests: knownDigests(row),
      digest: async (algorithm: DigestAlgorithm) => {
        if (row[algorithm]) return row[algorithm];
        const hashing = new HashingStream(Number.POSITIVE_INFINITY, [algorithm]);
        await pipeline(await blobs.open(row.blobKey), hashing, new Writable({ write: (_chunk, _encoding, done) => done() }));
        const hex = hashing.digests[algorithm]!;
        row[algorithm] = hex;
        (asset.digests as { -readonly [K in DigestAlgorithm]?: string })[algorithm] = hex;
        await this.metadata.fillDigest(row.storage, row.blobKey, algorithm, hex);
        return hex;
      },
      contentType: row.contentType,
      createdAt: new Date(row.createdAt),
      updatedAt: new Date(row.updatedAt),
      attributes: JSON.parse(row.attributes) as Record<string, unknown>,
      open: (range?: ByteRange) => blobs.open(row.blobKey, range),
      async read(maxBytes = DEFAULT_READ_LIMIT): Promise<Buffer> {
        if (row.size > maxBytes) throw new PayloadTooLargeError(`${row.path} is ${row.size} bytes, over the ${maxBytes} read limit`);
        const stream = await blobs.open(row.blobKey);
        // Copied into one buffer of the stored size as it arrives (no join of the whole at the end).
        return readLimited(stream, maxBytes, () => new PayloadTooLargeError(`${row.path} grew past the ${maxBytes} read limit`), () => stream.destroy(), row.size);
      },
      readJson: <T>(maxBytes = DEFAULT_READ_LIMIT): Promise<T> => {
        if (row.size > maxBytes) return Promise.reject(new PayloadTooLargeError(`${row.path} is ${row.size} bytes, over the ${maxBytes} read limit`));
        return this.memory.parseJson<T>(row.size, `${this.repository}/${row.path}`, () => asset.read(maxBytes));
      },
      withBytes: <T>(maxBytes: number | undefined, use: (bytes: Buffer) => T | Promise<T>): Promise<T> => {
        const limit = maxBytes ?? DEFAULT_READ_LIMIT;
        if (row.size > limit) return Promise.reject(new PayloadTooLargeError(`${row.path} is ${row.size} bytes, over the ${limit} read limit`));
        return this.memory.withBytes(row.size, `${this.repository}/${row.path}`, () => asset.read(limit), use);
      },
    };
    assetBlobs.set(asset, { store: blobs, blobKey: row.blobKey, repository: row.repository });
    return asset;
  }

  put(path: string, body: Readable | Buffer, options: PutAssetOptions): Promise<Asset> {
    return this.putWithCacheFields(path, body, options, {});
  }

  /** {@link put} plus the proxy cache's bookkeeping fields. */
  async putWithCacheFields(
    path: string,
    body: Readable | Buffer,
    options: PutAssetOptions & { onAbort?: 'drain' | 'destroy' },
    cache: CacheFields,
  ): Promise<Asset> {
    // A pending put never replaces a published asset; createOnly refuses one (except the
    // same bytes with sameBytesOk, known only once they are hashed).
    if ((options.createOnly || options.pending) && !options.sameBytesOk && (await this.publishedRow(path))) {
      if (!Buffer.isBuffer(body)) body.resume();
      throw new ConflictError(`${path} already exists`);
    }
    const blob = await this.blobs.ingest(body, { expect: options.expect, maxBytes: options.maxBytes, onAbort: options.onAbort, digests: options.digests ?? [] });
    return this.record(path, blob, options, cache);
  }

  /**
   * Record a blob already staged and verified (an upload session's single chunk) at
   * `path`: moved under its content key, never copied.
   */
  async record(path: string, blob: IngestedBlob, options: PutAssetOptions, cache: CacheFields = {}): Promise<Asset> {
    let previous: AssetRow | null = null;
    const asset = await this.blobs.commit(
      blob,
      () =>
        this.pathLocks.run(path, async () => {
          crashPoint('asset.blob-stored');
          if (options.createOnly || options.pending) {
            const published = await this.publishedRow(path);
            if (published && options.sameBytesOk && published.blobKey === blob.blobKey && published.storage === this.blobs.name) {
              previous = published;
              return this.toAsset(published);
            }
            if (published) throw new ConflictError(`${path} already exists`);
          }
          const token = options.pending ? randomUUID() : null;
          const now = Date.now();
          const row: Omit<AssetRow, 'id'> = {
            repository: this.repository,
            path,
            kind: options.kind,
            storage: this.blobs.name,
            blobKey: blob.blobKey,
            size: blob.size,
            ...rowDigests(blob.digests),
            contentType: options.contentType,
            attributes: JSON.stringify(options.attributes ?? {}),
            createdAt: now,
            updatedAt: now,
            lastDownloadedAt: null,
            expiresAt: cache.expiresAt ?? null,
            upstreamEtag: cache.upstreamEtag ?? null,
            upstreamLastModified: cache.upstreamLastModified ?? null,
            pending: token,
          };
          previous = await this.metadata.saveAsset(row);
          crashPoint('asset.row-written');
          const asset = this.toAsset({ ...row, createdAt: previous?.createdAt ?? now });
          if (token) pendingAssets.set(asset, { repository: this.repository, token });
          return asset;
        }),
      () => this.metadata.blobInUse(this.blobs.name, blob.blobKey),
    );
    // Outside the path lock: lock order is always content key, then path. The replaced
    // bytes go after a grace period: a reader that fetched the old row a moment ago (a
    // stale-while-revalidate answer, say) must still be able to open them.
    const replaced = previous as AssetRow | null;
    if (replaced && replaced.blobKey !== blob.blobKey) {
      setTimeout(() => void this.releaseBlob(replaced).catch(() => undefined), REPLACED_BLOB_GRACE_MS).unref();
    }
    return asset;
  }

  async link(path: string, source: Asset, options: Partial<Pick<PutAssetOptions, 'kind' | 'contentType' | 'createOnly' | 'attributes'>> = {}): Promise<Asset> {
    const put: PutAssetOptions = {
      kind: options.kind ?? source.kind,
      contentType: options.contentType ?? source.contentType,
      attributes: options.attributes ?? source.attributes,
      ...(options.createOnly ? { createOnly: true } : {}),
    };
    const location = assetBlobs.get(source);
    // Bytes in another store (or not the host's asset) are copied, verified.
    const copy = async () => this.put(path, await source.open(), { ...put, expect: { size: source.size, sha256: source.digests.sha256 } });
    if (!location || location.store !== this.blobs) return copy();
    if (options.createOnly && (await this.publishedRow(path))) throw new ConflictError(`${path} already exists`);
    let previous: AssetRow | null = null;
    const linked = await this.blobs.reference(location.blobKey, () =>
      this.pathLocks.run(path, async () => {
        if (options.createOnly && (await this.publishedRow(path))) throw new ConflictError(`${path} already exists`);
        const now = Date.now();
        const row: Omit<AssetRow, 'id'> = {
          repository: this.repository,
          path,
          kind: put.kind,
          storage: this.blobs.name,
          blobKey: location.blobKey,
          size: source.size,
          ...rowDigests(source.digests),
          contentType: put.contentType,
          attributes: JSON.stringify(put.attributes ?? {}),
          createdAt: now,
          updatedAt: now,
          lastDownloadedAt: null,
          expiresAt: null,
          upstreamEtag: null,
          upstreamLastModified: null,
          pending: null,
        };
        previous = await this.metadata.saveAsset(row);
        crashPoint('asset.row-written');
        return this.toAsset({ ...row, createdAt: previous?.createdAt ?? now });
      }),
    );
    if (!linked) return copy();
    const replaced = previous as AssetRow | null;
    if (replaced && replaced.blobKey !== location.blobKey) {
      setTimeout(() => void this.releaseBlob(replaced).catch(() => undefined), REPLACED_BLOB_GRACE_MS).unref();
    }
    return linked;
  }

  async list(prefix: string, options: { after?: string; limit?: number } = {}): Promise<{ assets: Asset[]; next?: string }> {
    const limit = Math.max(1, Math.min(1000, Math.floor(options.limit ?? 1000)));
    const rows = await this.metadata.listAssets(this.repository, prefix, options.after, limit + 1);
    const page = rows.slice(0, limit);
    const assets = page.map((row) => this.toAsset(row));
    return rows.length > limit ? { assets, next: page[page.length - 1]!.path } : { assets };
  }

  async updateCacheFields(path: string, cache: CacheFields): Promise<void> {
    await this.metadata.updateAsset(this.repository, path, { ...cache, updatedAt: Date.now() });
  }

  async delete(path: string): Promise<boolean> {
    const row = await this.pathLocks.run(path, () => this.metadata.deleteAsset(this.repository, path));
    if (!row) return false;
    crashPoint('asset.deleted');
    await this.releaseBlob(row);
    return true;
  }

  async discard(asset: Asset): Promise<boolean> {
    const token = pendingToken(asset, this.repository);
    if (!token) return false;
    const row = await this.pathLocks.run(asset.path, () => this.metadata.deletePendingAsset(this.repository, asset.path, token));
    if (!row) return false;
    crashPoint('asset.deleted');
    await this.releaseBlob(row);
    return true;
  }

  /**
   * Remove pending assets (of every repository) older than `graceMs`: publishes a crash
   * or an error cut short. Resolves how many were removed.
   */
  static async sweepPending(metadata: MetadataStore, stores: ReadonlyMap<string, BlobStore>, graceMs = PENDING_GRACE_MS): Promise<number> {
    let removed = 0;
    for (;;) {
      const rows = await metadata.stalePendingAssets(Date.now() - graceMs, 500);
      if (rows.length === 0) return removed;
      let page = 0;
      for (const row of rows) {
        const deleted = await metadata.deletePendingAsset(row.repository, row.path, row.pending!);
        if (!deleted) continue;
        removed++;
        page++;
        await stores.get(row.storage)?.release(row.blobKey, () => metadata.blobInUse(row.storage, row.blobKey)).catch(() => undefined);
      }
      if (rows.length < 500 || page === 0) return removed;
    }
  }

  /** Delete a blob no asset references any more (blobs are shared across repositories). */
  private async releaseBlob(row: AssetRow): Promise<void> {
    await this.storeOf(row).release(row.blobKey, () => this.metadata.blobInUse(row.storage, row.blobKey));
  }
}

/** Digests as row columns: '' for one not computed yet. */
function rowDigests(digests: KnownDigests): Pick<AssetRow, 'md5' | 'sha1' | 'sha256' | 'sha512'> {
  return { md5: digests.md5 ?? '', sha1: digests.sha1 ?? '', sha256: digests.sha256, sha512: digests.sha512 ?? '' };
}

/** A row's digests as an asset shows them: those computed ('' in a row: not yet). */
function knownDigests(row: Pick<AssetRow, 'md5' | 'sha1' | 'sha256' | 'sha512'>): KnownDigests {
  return { sha256: row.sha256, ...(row.md5 ? { md5: row.md5 } : {}), ...(row.sha1 ? { sha1: row.sha1 } : {}), ...(row.sha512 ? { sha512: row.sha512 } : {}) };
}
