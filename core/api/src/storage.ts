import type { Readable } from 'node:stream';
import type { ProviderEnvironment } from './auth.js';

/** An inclusive byte range, as in an HTTP `Range` header. */
export interface ByteRange {
  readonly start: number;
  /** Inclusive end; omitted means to the end of the object. */
  readonly end?: number;
}

/** Options of {@link StorageDriver.put}. */
export interface StoragePutOptions {
  /** Expected size in bytes; the put fails (and nothing is visible) when it differs. */
  readonly size?: number;
  /** Expected sha256 (hex); the put fails (and nothing is visible) when it differs. */
  readonly sha256?: string;
  /** Fail with code `EEXIST` when the key already exists. */
  readonly createOnly?: boolean;
  readonly contentType?: string;
}

/** Options of {@link StorageDriver.presignedGetUrl}. */
export interface PresignedGetOptions {
  /** The `Content-Type` the store should answer with (blobs are shared across formats). */
  readonly contentType?: string;
}

/** What a driver reports about a stored object. */
export interface StorageObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
}

/** One page of {@link StorageDriver.list}. */
export interface StorageListPage {
  readonly keys: readonly string[];
  /** Pass to the next call to continue; absent on the last page. */
  readonly cursor?: string;
}

/**
 * A blob store: opaque bytes by key. Keys are `/`-separated, never start with `/`, and
 * never contain `..` segments; the host builds them, not clients.
 *
 * Every implementation must pass the conformance suite in `@registry-core/testing`.
 */
export interface StorageDriver {
  /**
   * Store a stream under `key`. Atomic: readers see the old object or the new one, never
   * a partial one, and a failed or aborted put leaves nothing visible.
   */
  put(key: string, body: Readable, options?: StoragePutOptions): Promise<StorageObjectInfo>;
  /** Open a stream of the object (or of a range of it); `undefined` when missing. */
  get(key: string, range?: ByteRange): Promise<Readable | undefined>;
  /** Size and time of an object; `undefined` when missing. */
  head(key: string): Promise<StorageObjectInfo | undefined>;
  /** Delete an object; resolve `false` when it did not exist. */
  delete(key: string): Promise<boolean>;
  /** Move an object to another key atomically (rename); the target is replaced. */
  move(from: string, to: string): Promise<void>;
  /** List keys under a prefix, in lexicographic order, a page at a time. */
  list(prefix: string, options?: { cursor?: string; limit?: number }): Promise<StorageListPage>;
  /**
   * Optional: where a web server in front of the registry reads the object itself, as a
   * path for nginx's `X-Accel-Redirect` (`/_blobs/sha256/ab/cd/…`), so bytes never pass
   * through Node. `undefined` when this driver or its config offers no such location.
   */
  internalRedirectPath?(key: string): string | undefined;
  /**
   * Optional: a URL a client can download the object from directly for the next
   * `expiresInSeconds` (a presigned or SAS URL), answering with `options.contentType`
   * when given. `undefined` when this driver's config cannot sign URLs. The host
   * redirects downloads to it when the operator sets `storage.<name>.redirect`.
   */
  presignedGetUrl?(key: string, expiresInSeconds: number, options?: PresignedGetOptions): Promise<string | undefined>;
  /** Release connections and handles. */
  close?(): Promise<void>;
}

/** What a storage-driver plugin registers. */
export interface StorageDriverDefinition {
  /** Id used as `storage.<name>.driver` in the config. */
  readonly id: string;
  /** Build a driver from its config block (`path`, `bucket`, ...). */
  create(options: Readonly<Record<string, unknown>>, env: ProviderEnvironment): StorageDriver | Promise<StorageDriver>;
}
