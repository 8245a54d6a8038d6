import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  IntegrityError,
  isRegistryError,
  type ByteRange,
  type DigestAlgorithm,
  type ExpectedDigests,
  type StorageDriver,
} from '@registry-core/api';
import type { StorageRedirectConfig } from '../config/types.js';
import { ALL_DIGESTS, HashingStream, type KnownDigests } from './hashing.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { BlobMemoryCache } from './memory-cache.js';
import { readLimited } from './read-limited.js';

/** A blob written and verified by {@link BlobStore.ingest}, still under its staging key. */
export interface IngestedBlob {
  readonly blobKey: string;
  readonly stagingKey: string;
  readonly size: number;
  readonly digests: KnownDigests;
}

/** Content-addressed key of a blob: `sha256/ab/cd/<hex>`. */
export function blobKeyFor(sha256: string): string {
  return `sha256/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
}

/**
 * Content-addressed blobs over one storage driver. Bytes stream to a staging key while
 * being hashed and checked, then move to their sha256 key; identical bytes are stored
 * once. Nothing half-written or unverified ever sits under a content key.
 */
export class BlobStore {
  /**
   * Per content key: "is it still referenced? then delete" and "it exists, reference it"
   * never interleave, so a blob is never deleted under a row about to point at it: within
   * this process by this mutex, across nodes by {@link clusterLock} taken inside it.
   */
  private readonly keyLocks = new KeyedMutex();

  constructor(
    readonly name: string,
    readonly driver: StorageDriver,
    /** Hot small blobs (shared by every store; keys are prefixed with the store's name). */
    private readonly memory?: BlobMemoryCache,
    /** Send downloads of large blobs to the store itself (`storage.<name>.redirect`). */
    private readonly redirect?: StorageRedirectConfig,
    /**
     * A lock every node sharing this storage respects (the metadata store's cluster lock):
     * with it, "unreferenced? then delete" on one node and "exists? then reference" on
     * another never interleave either.
     */
    private readonly clusterLock: <T>(key: string, work: () => Promise<T>) => Promise<T> = (_key, work) => work(),
  ) {
    if (redirect && !driver.presignedGetUrl) {
      throw new Error(`storage ${name}: "redirect" needs a driver that makes presigned download URLs, and this driver does not`);
    }
  }

  /**
   * A URL the client can download a blob from directly, when this store redirects blobs
   * of this size; `undefined` to serve it here.
   */
  async redirectUrl(blobKey: string, size: number, contentType: string): Promise<string | undefined> {
    if (!this.redirect || size < this.redirect.minBytes) return undefined;
    return this.driver.presignedGetUrl?.(blobKey, this.redirect.expiresSeconds, { contentType });
  }

  /** The whole blob if the memory cache holds it (never reads storage). */
  peekSmall(blobKey: string): Buffer | undefined {
    return this.memory?.get(`${this.name}\u0000${blobKey}`);
  }

  /**
   * The whole blob from memory, reading it in when it is small enough to keep; `undefined`
   * when it is too large for the memory cache (stream it instead).
   */
  async readSmall(blobKey: string, size: number): Promise<Buffer | undefined> {
    if (!this.memory?.accepts(size)) return undefined;
    const key = `${this.name}\u0000${blobKey}`;
    const cached = this.memory.get(key);
    if (cached) return cached;
    const stream = await this.open(blobKey);
    const bytes = await readLimited(stream, size, () => new Error(`blob ${blobKey} in storage ${this.name} is larger than its recorded ${size} bytes`), () => stream.destroy());
    // Checked once on the way in (cheap for small blobs): bit rot is never kept in memory
    // and served for hours; `cache verify` finds and repairs such a blob.
    if (bytes.length !== size || blobKeyFor(createHash('sha256').update(bytes).digest('hex')) !== blobKey) {
      throw new Error(`blob ${blobKey} in storage ${this.name} does not match its content address (run registry-core cache verify)`);
    }
    this.memory.set(key, bytes);
    return bytes;
  }

  /**
   * Stream `body` to a staging key while hashing it, and verify it. Nothing is visible
   * under a content key until {@link commit}. `onAbort` says what to do with a source we
   * stop reading: drain a client's request, destroy an upstream's body.
   */
  async ingest(
    body: Readable | Buffer,
    options: { expect?: ExpectedDigests; maxBytes?: number; onAbort?: 'drain' | 'destroy'; stagingKey?: string; digests?: readonly DigestAlgorithm[] } = {},
  ): Promise<IngestedBlob> {
    const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
    // A stream that already broke (before we were handed it) emits no more events.
    if (source.errored) throw source.errored;
    if (source.destroyed && !source.readableEnded) throw new Error('the body was closed before it was read');
    const expected = ALL_DIGESTS.filter((algorithm) => options.expect?.[algorithm] !== undefined);
    const hashing = new HashingStream(options.maxBytes, [...(options.digests ?? []), ...expected]);
    const stagingKey = options.stagingKey ?? `staging/${randomUUID()}`;
    source.on('error', (error) => hashing.destroy(error));
    const piped = source.pipe(hashing);
    let failure: unknown;
    hashing.on('error', (error) => (failure ??= error));
    try {
      await this.driver.put(stagingKey, piped, options.expect?.size !== undefined ? { size: options.expect.size } : {});
    } catch (error) {
      source.unpipe(hashing);
      if (!source.destroyed && !Buffer.isBuffer(body)) {
        if (options.onAbort === 'destroy') source.destroy();
        else source.resume();
      }
      // The hashing stream's own error (e.g. too large) explains more than the driver's.
      if (isRegistryError(failure)) throw failure;
      // A driver's own size/digest check failing is the client's content, not a server fault.
      if ((error as { code?: unknown }).code === 'EINTEGRITY') throw new IntegrityError((error as Error).message);
      throw error;
    }
    const digests = hashing.digests;
    const mismatch = compareDigests(digests, hashing.size, options.expect);
    if (mismatch) {
      await this.driver.delete(stagingKey).catch(() => undefined);
      throw new IntegrityError(mismatch);
    }
    return { blobKey: blobKeyFor(digests.sha256), stagingKey, size: hashing.size, digests };
  }

  /**
   * Put a staged blob under its content key (or drop it: the bytes are already there) and
   * run `record` (which writes the row referencing it) under the key's lock. When `record`
   * fails, the blob is removed again unless `inUse` says something else references it.
   */
  async commit<T>(blob: IngestedBlob, record: () => Promise<T>, inUse: () => Promise<boolean>): Promise<T> {
    return this.lockBlob(blob.blobKey, async () => {
      if (await this.driver.head(blob.blobKey)) {
        await this.driver.delete(blob.stagingKey).catch(() => undefined);
      } else {
        await this.driver.move(blob.stagingKey, blob.blobKey);
      }
      try {
        return await record();
      } catch (error) {
        if (!(await inUse())) await this.driver.delete(blob.blobKey).catch(() => undefined);
        throw error;
      }
    });
  }

  /**
   * Run `record` (which writes a row referencing an existing blob) under the key's lock,
   * once the bytes are confirmed present; resolves `undefined` when they are gone.
   */
  async reference<T>(blobKey: string, record: () => Promise<T>): Promise<T | undefined> {
    return this.lockBlob(blobKey, async () => ((await this.driver.head(blobKey)) ? record() : undefined));
  }

  /** Delete a blob when nothing references it any more (checked under the key's lock). */
  async release(blobKey: string, inUse: () => Promise<boolean>): Promise<void> {
    await this.lockBlob(blobKey, async () => {
      if (await inUse()) return;
      this.memory?.delete(`${this.name}\u0000${blobKey}`);
      await this.driver.delete(blobKey).catch(() => undefined);
    });
  }

  private lockBlob<T>(blobKey: string, work: () => Promise<T>): Promise<T> {
    return this.keyLocks.run(blobKey, () => this.clusterLock(`blob:${this.name}:${blobKey}`, work));
  }

  /** Drop a staged blob that will not be committed. */
  async discard(blob: IngestedBlob): Promise<void> {
    await this.driver.delete(blob.stagingKey).catch(() => undefined);
  }

  /**
   * Remove staging objects left by a crash mid-upload (older than `olderThanMs`, so
   * uploads in flight on other nodes are left alone). Resolves how many were removed.
   */
  async sweepStaging(olderThanMs = 3_600_000): Promise<number> {
    let removed = 0;
    let cursor: string | undefined;
    const cutoff = Date.now() - olderThanMs;
    do {
      const page = await this.driver.list('staging/', { cursor, limit: 1000 });
      for (const key of page.keys) {
        const info = await this.driver.head(key);
        if (info && info.lastModified.getTime() < cutoff && (await this.driver.delete(key))) removed++;
      }
      cursor = page.cursor;
    } while (cursor);
    return removed;
  }

  async open(blobKey: string, range?: ByteRange): Promise<Readable> {
    const stream = await this.driver.get(blobKey, range);
    if (!stream) throw new Error(`blob ${blobKey} is missing from storage ${this.name}`);
    return stream;
  }

}

/** A message naming the first digest that differs, or undefined when all match. */
export function compareDigests(actual: KnownDigests, size: number, expect: ExpectedDigests | undefined): string | undefined {
  if (!expect) return undefined;
  if (expect.size !== undefined && expect.size !== size) return `size is ${size} bytes, expected ${expect.size}`;
  for (const algorithm of ['sha512', 'sha256', 'sha1', 'md5'] as const) {
    const wanted = expect[algorithm];
    // A digest that was not computed cannot be checked: a mismatch, never an "all clear".
    if (wanted !== undefined && wanted.toLowerCase() !== actual[algorithm]) {
      return `${algorithm} is ${actual[algorithm] ?? 'not computed'}, expected ${wanted.toLowerCase()}`;
    }
  }
  return undefined;
}
