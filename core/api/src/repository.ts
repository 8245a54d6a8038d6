import type { Readable } from 'node:stream';
import type { ByteRange } from './storage.js';

/** The three kinds of repository every format can be served as. */
export type RepositoryType = 'hosted' | 'proxy' | 'group';

/**
 * How long content may be cached and whether it ever changes. `metadata` documents
 * (indexes, packuments) expire after the repository's TTL; `content` (artifacts addressed
 * by name and version or by digest) is immutable.
 */
export type AssetKind = 'metadata' | 'content';

/** Digests a piece of content is expected to have. Hex unless stated otherwise. */
export interface ExpectedDigests {
  readonly size?: number;
  readonly md5?: string;
  readonly sha1?: string;
  readonly sha256?: string;
  readonly sha512?: string;
}

/** Digests the host knows of stored content (hex). */
export interface Digests {
  readonly md5: string;
  readonly sha1: string;
  readonly sha256: string;
  readonly sha512: string;
}

/** A digest algorithm the host computes. */
export type DigestAlgorithm = keyof Digests;

/** The digests known of stored bytes: sha256 always, the others once computed (see {@link Asset.digest}). */
export type KnownDigests = { readonly sha256: string } & Partial<Digests>;

/** A stored file of a repository: path, bytes (by blob) and what is known about them. */
export interface Asset {
  /** Path inside the repository, as the format chose it. */
  readonly path: string;
  readonly kind: AssetKind;
  readonly size: number;
  /** What is known now; ask {@link digest} for one that may not be computed yet. */
  readonly digests: KnownDigests;
  readonly contentType: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** Format-defined attributes stored with the asset. */
  readonly attributes: Readonly<Record<string, unknown>>;
  /**
   * One digest of the bytes: at once when it was computed while storing (see
   * {@link PutAssetOptions.digests}), else computed now by reading the bytes once, then
   * kept for every asset of the same bytes.
   */
  digest(algorithm: DigestAlgorithm): Promise<string>;
  /** Stream the bytes (or a range of them). */
  open(range?: ByteRange): Promise<Readable>;
  /**
   * Read the whole asset into memory. Only for metadata documents the format must parse;
   * refused above `maxBytes` (default 64 MiB) so an artifact is never buffered by accident.
   */
  read(maxBytes?: number): Promise<Buffer>;
  /**
   * Parse the asset as JSON (a metadata document: an upstream's index, a packument): the
   * value `JSON.parse` gives for the bytes as UTF-8, parsed without holding the event loop
   * for more than a few milliseconds at a time. Refused above `maxBytes` (default 64 MiB)
   * with a PayloadTooLargeError. The bytes and their parse count against the host's
   * metadata memory (`server.metadataMemory`), shared by every request: when it is taken,
   * this waits a bounded time, then fails with a 503 (`METADATA_MEMORY_BUSY`); a document
   * larger than all of it fails at once. Bytes that are not JSON: a SyntaxError.
   */
  readJson<T = unknown>(maxBytes?: number): Promise<T>;
  /**
   * {@link read} for a document the format parses itself (XML, HTML): `use` gets the bytes
   * and its result is resolved; the metadata memory is held until `use` settles, as with
   * {@link readJson}. Keep `use` short on the event loop (the documents it gets are small:
   * the format's limit).
   */
  withBytes<T>(maxBytes: number | undefined, use: (bytes: Buffer) => T | Promise<T>): Promise<T>;
}

/** Options of {@link AssetStore.put}. */
export interface PutAssetOptions {
  readonly kind: AssetKind;
  readonly contentType: string;
  /** Verified while streaming; on mismatch nothing is stored and an IntegrityError is thrown. */
  readonly expect?: ExpectedDigests;
  /**
   * Digests to compute while storing, besides sha256 (always) and those `expect` names: the
   * ones the format serves with every answer (npm's sha1 and sha512). Others are computed
   * when first asked for ({@link Asset.digest}). Default: none besides those.
   */
  readonly digests?: readonly DigestAlgorithm[];
  /** Bytes allowed; above it nothing is stored and a PayloadTooLargeError is thrown. */
  readonly maxBytes?: number;
  /** Refuse with a ConflictError when the path already holds an asset. */
  readonly createOnly?: boolean;
  /**
   * With `createOnly`: when the path already holds a published asset of exactly these bytes
   * (a publish retried after it had landed), resolve that asset instead of refusing.
   */
  readonly sameBytesOk?: boolean;
  /**
   * Store the asset as part of a publish that is not committed yet: it is stored and
   * verified, but {@link AssetStore.get} and {@link AssetStore.list} do not see it (it is
   * never served) until the document update that lists it publishes it
   * ({@link DocumentUpdateOptions.publish}), in the same transaction. A pending asset never
   * replaces a published one (ConflictError); a later pending put of the same path (a
   * publish retried after a crash) replaces it; one never published is swept after a
   * grace period (an hour). `createOnly` refuses only a published asset.
   */
  readonly pending?: boolean;
  readonly attributes?: Readonly<Record<string, unknown>>;
}

/** Files of one repository, stored content-addressed in the repository's blob store. */
export interface AssetStore {
  get(path: string): Promise<Asset | undefined>;
  /** Stream `body` to storage (hashing it), then record it at `path`. Atomic. */
  put(path: string, body: Readable | Buffer, options: PutAssetOptions): Promise<Asset>;
  /** Resolve `false` when there was nothing at `path`. */
  delete(path: string): Promise<boolean>;
  /**
   * Drop a pending asset this publish stored (see {@link PutAssetOptions.pending}) when the
   * publish fails: only if `path` still holds that very pending asset (another publish
   * may have replaced it meanwhile). Resolves whether it was removed.
   */
  discard(asset: Asset): Promise<boolean>;
  /**
   * Record `source`'s bytes (an asset of this or another repository) at `path` as well,
   * without copying them: blobs are content-addressed, so this only writes a row (a
   * cross-repository blob mount). Options default to the source's.
   */
  link(path: string, source: Asset, options?: Partial<Pick<PutAssetOptions, 'kind' | 'contentType' | 'createOnly' | 'attributes'>>): Promise<Asset>;
  /**
   * Assets whose path starts with `prefix`, in path order (UTF-8 byte order), at most
   * `limit` (default and most 1000) after the path `after`. `next` is the path to pass as
   * `after` for the following page, absent on the last page.
   */
  list(prefix: string, options?: { readonly after?: string; readonly limit?: number }): Promise<{ readonly assets: readonly Asset[]; readonly next?: string }>;
}

/** A resumable upload in progress (an OCI blob upload session). */
export interface UploadSession {
  /** Opaque, unguessable id (safe in a URL). */
  readonly id: string;
  /** Bytes received so far. */
  readonly size: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** What the format stored with it at creation (the image it belongs to, say). */
  readonly attributes: Readonly<Record<string, unknown>>;
}

/**
 * Uploads that arrive in several requests, possibly on different nodes: each chunk goes
 * to the repository's storage while being hashed; the whole becomes an asset on commit,
 * verified against the expected digests (a single-chunk upload is moved, not copied).
 * Sessions untouched for `uploads.expireHours` (default 24) are removed with their bytes.
 */
export interface UploadSessions {
  create(attributes?: Readonly<Record<string, unknown>>): Promise<UploadSession>;
  /** `undefined` for an unknown or expired session. */
  get(id: string): Promise<UploadSession | undefined>;
  /**
   * Append `body` at `offset` (default: the current size). Throws a NotFoundError for an
   * unknown session, a RangeNotSatisfiableError when `offset` is not the current size
   * (a gap or a resent chunk), a PayloadTooLargeError past `maxBytes` in all.
   */
  append(id: string, body: Readable, options?: { readonly offset?: number; readonly maxBytes?: number }): Promise<UploadSession>;
  /**
   * Append `final` if given, then store everything received at `path`, checked against
   * `options.expect` (an IntegrityError leaves the session as it was before `final`), and
   * end the session.
   */
  commit(id: string, path: string, options: PutAssetOptions & { readonly final?: Readable }): Promise<Asset>;
  /** End a session and drop its bytes; `false` when there was none. */
  cancel(id: string): Promise<boolean>;
}

/** A JSON document with its revision. */
export interface StoredDocument<T> {
  readonly value: T;
  /** Increases by one with every change. */
  readonly revision: number;
  readonly updatedAt: Date;
}

/** Options of {@link DocumentStore.update}. */
export interface DocumentUpdateOptions {
  /**
   * Pending assets of this repository (as {@link AssetStore.put} with `pending` resolved
   * them) to publish in the same transaction as the document's new value: the commit point
   * of a publish. Clients see both or neither. When one of them is no longer the pending
   * asset at its path (another publish replaced it), nothing is written and a
   * ConflictError is thrown. They are published whatever `change` resolves (a new value, the
   * same one, a delete) when it does not throw.
   */
  readonly publish?: readonly Asset[];
}

/** Returned from an update function to delete the document. */
export const DELETE_DOCUMENT: unique symbol = Symbol.for('registry-core.delete-document');

/**
 * Small JSON documents of a repository (a hosted packument, an index), changed only by
 * read-modify-write serialised per key, across nodes too.
 */
export interface DocumentStore {
  get<T>(key: string): Promise<StoredDocument<T> | undefined>;
  /**
   * Run `change` on the current value under a per-key lock and store what it returns.
   * Return the same object unchanged to skip the write, {@link DELETE_DOCUMENT} to delete.
   * Errors thrown by `change` abort without writing.
   */
  update<T>(
    key: string,
    change: (current: T | undefined) => T | typeof DELETE_DOCUMENT | Promise<T | typeof DELETE_DOCUMENT>,
    options?: DocumentUpdateOptions,
  ): Promise<StoredDocument<T> | undefined>;
  delete(key: string): Promise<boolean>;
}

/** A name and version a repository holds, for search and listings. */
export interface Component {
  readonly name: string;
  readonly version: string;
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly updatedAt: Date;
}

/** Search result of {@link ComponentIndex.search}. */
export interface ComponentSearchResult {
  readonly total: number;
  readonly items: readonly Component[];
}

/** Index of a repository's components (name, version, attributes). */
export interface ComponentIndex {
  upsert(component: { name: string; version: string; attributes?: Record<string, unknown> }): Promise<void>;
  /** Remove one version, or every version of `name` when `version` is omitted. */
  remove(name: string, version?: string): Promise<number>;
  /** Case-insensitive substring search over names (and the `keywords`/`description` attributes). */
  search(query: { text: string; offset?: number; limit: number }): Promise<ComponentSearchResult>;
  versions(name: string): Promise<readonly Component[]>;
}

/** A plugin-private key-value store scoped to one repository. */
export interface KeyValueStore {
  get<T>(key: string): Promise<T | undefined>;
  set<T>(key: string, value: T): Promise<void>;
  delete(key: string): Promise<boolean>;
}

/**
 * Values a format derives from stored data (a parsed upstream index, a rendered answer),
 * kept by the kernel in one byte-bounded, least-recently-used memory shared by every
 * repository. A key must carry the identity of what the value derives from (a document's
 * revision, a stored file's sha256): a change on any node is then a new key, never a stale
 * answer, and no invalidation message is needed. Values are shared between requests: never
 * mutate one after it is kept.
 *
 * A `slot` names what a value is for without its revision (a repository's answer for one
 * document and variant, say): keeping a value under a slot drops the one kept before under
 * that slot, which the newer revision replaced. Without slots, every revision of a document
 * that changes often (a package being published) stays until it ages out: memory held for
 * answers nobody can be given again.
 */
export interface DerivedCache {
  /** The value kept under `key` in this repository, or `undefined`. */
  get<T>(key: string): T | undefined;
  /**
   * Keep `value`, accounted as `bytes`: what it costs in memory (the kernel adds the key's
   * and the entry's own cost; one over an eighth of the budget is not kept). With `slot`,
   * the value kept before under that slot is dropped.
   */
  set<T>(key: string, value: T, bytes: number, slot?: string): void;
  /**
   * The JSON text of the value `produce` resolves (a large document's answer), serialised by
   * the kernel without holding the event loop (member by member, yielding every few
   * milliseconds), with its sha256 ETag; kept under `key` like {@link set}, accounted by its
   * size, so the next call answers from memory. Concurrent calls with one key share one
   * rendering. `key` undefined: rendered, not kept. With `slot`, the rendering kept before
   * under that slot is dropped when this one is kept. Serve it with a `rendered` body
   * ({@link renderedResponse}).
   */
  renderJson(key: string | undefined, produce: () => unknown, slot?: string): Promise<RenderedJson>;
  /**
   * {@link renderJson} for a text answer (XML, HTML, a checksum, JSON a format serialises
   * itself): the UTF-8 bytes of the string `produce` resolves, with their sha256 ETag, kept
   * under `key` (with `slot`) and shared while under way the same way. Serve it with a
   * `rendered` body and the text's content type ({@link renderedResponse}).
   */
  renderText(key: string | undefined, produce: () => string | Promise<string>, slot?: string): Promise<RenderedJson>;
}

/**
 * An answer rendered by the kernel ({@link DerivedCache.renderJson}, {@link DerivedCache.renderText});
 * shared, never mutate it. (Named for JSON, its first kind; any rendered text has this shape.)
 */
export interface RenderedJson {
  /** The UTF-8 bytes of `JSON.stringify(value)`, in order, in chunks (no single copy of the whole). */
  readonly chunks: readonly Buffer[];
  /** Bytes in all. */
  readonly size: number;
  /** Strong ETag: the sha256 of the bytes in hex, quoted. */
  readonly etag: string;
}

/** Where a proxied answer came from. */
export type CacheStatus = 'HIT' | 'MISS' | 'STALE';

/** A request the proxy cache answers from storage or from the upstream. */
export interface UpstreamFetch {
  /** Asset path the answer is cached under. */
  readonly path: string;
  /**
   * Upstream location: relative to the repository's upstream URL, or absolute on the
   * upstream's own origin (under its base path) or on one of the repository's
   * `cache.allowedOrigins`; anything else is refused (see {@link ProxyCache.allows}).
   * Defaults to `path`.
   */
  readonly upstreamUrl?: string;
  readonly kind: AssetKind;
  /** Request headers for the upstream (e.g. `accept`). Never the client's credentials. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * `Authorization` for the upstream (credentials from the repository's config, or a token
   * bought with them): sent to the request's own origin only, dropped on a redirect to any
   * other (a CDN). Never the client's credentials.
   */
  readonly authorization?: string;
  /**
   * The token scope this request needs from an upstream that uses the Docker registry token
   * flow (`repository:library/alpine:pull`): once the upstream has answered a Bearer
   * challenge, the kernel sends a token for this scope (bought with `upstreamAuth`, cached
   * until it expires) without waiting for another 401.
   */
  readonly tokenScope?: string;
  /** What the content must hash to; checked before it becomes a cache entry. */
  readonly expect?: ExpectedDigests;
  /**
   * For metadata: revalidate an expired entry with a HEAD first, and keep it (fresh again)
   * when `unchanged` says the HEAD's headers (lower-case names) still describe it (an OCI
   * tag's `Docker-Content-Digest`, say); otherwise, or when the HEAD fails, the full
   * request runs as usual.
   */
  readonly revalidate?: { readonly unchanged: (headers: Readonly<Record<string, string>>, cached: Asset) => boolean };
  /**
   * Content type to store, whatever the upstream's header says (the format knows what the
   * path serves); absent, the upstream's `Content-Type`, else `application/octet-stream`.
   */
  readonly contentType?: string;
  /** Bytes allowed from the upstream for this asset. */
  readonly maxBytes?: number;
  /**
   * Called only when the upstream must be asked (a miss, or an entry to revalidate), for
   * what is costly to learn: the upstream location and the digests, from an upstream
   * index, say. The fields it resolves replace the request's. Resolve `undefined` when
   * the upstream does not list the artifact: it is answered as not found without asking
   * the upstream (and not negatively cached). Errors it throws reach the caller as they are.
   */
  readonly prepare?: () => Promise<UpstreamPreparation | undefined>;
}

/** What {@link UpstreamFetch.prepare} may fill in on a miss. */
export type UpstreamPreparation = Partial<Pick<UpstreamFetch, 'upstreamUrl' | 'headers' | 'authorization' | 'tokenScope' | 'expect' | 'contentType' | 'maxBytes'>>;

/**
 * Content still arriving from an upstream while it is verified and stored (the streaming
 * tee of {@link ProxyCache.serve}). Every reader starts at the first byte and follows the
 * download; a reader's last byte is held back until the whole content is verified and
 * stored, so a client never receives a complete body that failed verification.
 */
export interface IncomingAsset {
  readonly path: string;
  readonly kind: AssetKind;
  readonly contentType: string;
  /** Bytes the upstream announced (Content-Length), when it announced them. */
  readonly size?: number;
  /**
   * A new reader from the first byte. It ends when the content is stored and errors when
   * the download or its verification fails. Destroying it never stops the download.
   */
  open(): Readable;
  /**
   * Resolves when the answer should start: once the content is stored, or, for large
   * content, once its first megabyte is in. Rejects when the download failed before that,
   * so the host can still answer with a proper error.
   */
  ready(): Promise<void>;
  /** Resolves the stored asset once verified and stored; rejects when that failed. */
  readonly stored: Promise<Asset>;
}

/** The answer of {@link ProxyCache.serve}: a body ready for a {@link FormatResponse}. */
export type UpstreamServeResult =
  | { readonly found: true; readonly cache: CacheStatus; readonly body: import('./http.js').ResponseBody }
  | { readonly found: false; readonly cache: CacheStatus };

/** The answer of {@link ProxyCache.fetch}. */
export type UpstreamResult =
  | { readonly found: true; readonly asset: Asset; readonly cache: CacheStatus }
  | { readonly found: false; readonly cache: CacheStatus };

/** A request passed to the upstream as it is, never cached (search, audit). */
export interface UpstreamPassthrough {
  readonly method: string;
  readonly upstreamUrl: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** As {@link UpstreamFetch.authorization}. */
  readonly authorization?: string;
  /** As {@link UpstreamFetch.tokenScope}. */
  readonly tokenScope?: string;
  readonly body?: Buffer;
  /** Largest response body accepted, default 16 MiB. */
  readonly maxBytes?: number;
}

/** The kernel's pull-through cache for a proxy repository. */
export interface ProxyCache {
  /** The upstream base URL, with a trailing slash. */
  readonly upstreamUrl: string;
  /**
   * Serve `path` from the cache or the upstream, with TTLs, revalidation, coalescing of
   * concurrent misses, a negative cache for 404 and stale answers when the upstream fails.
   * Throws an UpstreamError / UpstreamTimeoutError when the upstream fails and nothing is cached.
   */
  fetch(request: UpstreamFetch): Promise<UpstreamResult>;
  /**
   * {@link fetch} for content a handler only passes on to its client: on a miss, the
   * answer starts as soon as the upstream's headers arrive and every coalesced client
   * reads the bytes while they are being stored (an {@link IncomingAsset} body); a client
   * that goes away does not stop the caching, and a download that breaks off or fails
   * verification is never stored. Hits are stored-asset bodies, as with `fetch`.
   */
  serve(request: UpstreamFetch): Promise<UpstreamServeResult>;
  /**
   * Whether the proxy would fetch `url` (absolute, or relative to {@link upstreamUrl}):
   * `true` for the upstream's own origin under its base path and for the repository's
   * `cache.allowedOrigins`. Lets a format choose, for a content URL found in upstream
   * metadata, between that URL and a conventional location on the upstream. Saying `true`
   * does not promise success: connections to private addresses off the upstream's own
   * host are still refused (unless `cache.allowPrivateAddresses`), and so are redirects
   * that leave the allowed origins.
   */
  allows(url: string): boolean;
  /** Forward a request that is never cached; resolves the upstream's status and body. */
  passthrough(request: UpstreamPassthrough): Promise<{ status: number; headers: Record<string, string>; body: Buffer }>;
}

/** What every repository offers a handler, whatever its type. */
export interface RepositoryServices {
  readonly name: string;
  readonly format: string;
  /** The repository's config block as written (format-specific keys included). */
  readonly config: Readonly<Record<string, unknown>>;
  /**
   * Limits in force for this repository. `maxMetadataBytes`: the largest metadata document
   * (an upstream's packument, index, tag list) the format should accept and parse: the
   * repository's `cache.maxMetadataSize`, else the format's `maxMetadataBytes` (FormatDefinition),
   * else 64 MiB.
   */
  readonly limits: { readonly maxUploadBytes: number; readonly maxSearchResults: number; readonly maxMetadataBytes: number };
  readonly assets: AssetStore;
  readonly documents: DocumentStore;
  readonly components: ComponentIndex;
  readonly kv: KeyValueStore;
  /** Resumable uploads into this repository's storage. */
  readonly uploads: UploadSessions;
  /** Derived values (parsed, rendered) kept in memory by the kernel; see {@link DerivedCache}. */
  readonly derived: DerivedCache;
  /**
   * Run `work` holding the lock `name` of this repository (an image being pushed or
   * collected, say): one holder at a time across every node on a PostgreSQL metadata store,
   * in this process on SQLite. Not reentrant: never take the same name again inside `work`.
   */
  withLock<T>(name: string, work: () => Promise<T>): Promise<T>;
}

/** A hosted repository: the publish target. */
export interface HostedRepositoryHandle extends RepositoryServices {
  readonly type: 'hosted';
}

/** A proxy repository, with the kernel's pull-through cache of its upstream. */
export interface ProxyRepositoryHandle extends RepositoryServices {
  readonly type: 'proxy';
  readonly upstream: ProxyCache;
}

/**
 * A group repository. Its handlers run only for routes whose plan is `group` (login, ping):
 * which members answer everything else is the kernel's decision (see GroupPlan).
 */
export interface GroupRepositoryHandle extends RepositoryServices {
  readonly type: 'group';
}

/**
 * The repository a request is served for. A route's handler per kind ({@link HandlersByKind})
 * or a document's loaders ({@link MergeableDocument}) receive it already narrowed.
 */
export type RepositoryHandle = HostedRepositoryHandle | ProxyRepositoryHandle | GroupRepositoryHandle;
