import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import {
  BadRequestError,
  ForbiddenError,
  NotFoundError,
  UpstreamError,
  isRegistryError,
  isUpstreamRefusal,
  type Asset,
  type CacheStatus,
  type FormatRequestContext,
  type FormatResponse,
  type ProxyRepositoryHandle,
} from '@registry-core/api';
import { sanitizeUpstreamPackage, type PackageDocument } from './documents.js';
import { ARCHIVE_TYPES, hashKey, type HashEntry } from './hosted.js';
import { hashArchive, hashZip, isZigHash, matchesHash, sniffArchive, type PackageDigest } from './package-hash.js';

/** Largest package document taken from an upstream registry. */
export const MAX_PACKAGE_DOCUMENT_BYTES = 16 * 1024 * 1024;

/**
 * Whether a proxy's upstream is a registry of this layout (`packages/…`, `hash/…`): the
 * repository's `packages` key, else true, except for an upstream on github.com (the
 * zero-config default), which is a URL cache alone.
 */
export function upstreamIsRegistry(repo: ProxyRepositoryHandle): boolean {
  return servesPackages(repo.config, repo.upstream.upstreamUrl);
}

/** {@link upstreamIsRegistry} from a proxy's config block and upstream URL. */
export function servesPackages(config: Readonly<Record<string, unknown>>, upstream: string | undefined): boolean {
  const configured = config['packages'];
  if (typeof configured === 'boolean') return configured;
  return upstream === undefined || new URL(upstream).hostname !== 'github.com';
}

/** The upstream registry's package document, cached as metadata (TTL, revalidation, stale). */
export async function loadUpstreamPackage(repo: ProxyRepositoryHandle, name: string): Promise<{ doc: PackageDocument; cache: CacheStatus } | undefined> {
  if (!upstreamIsRegistry(repo)) return undefined;
  const result = await repo.upstream.fetch({
    path: `packages/${name}`,
    upstreamUrl: `packages/${encodeURIComponent(name)}`,
    kind: 'metadata',
    headers: { accept: 'application/json' },
    contentType: 'application/json',
    maxBytes: repo.limits.maxMetadataBytes,
  });
  if (!result.found) return undefined;
  let value: unknown;
  try {
    value = await result.asset.readJson(repo.limits.maxMetadataBytes);
  } catch (error) {
    if (isRegistryError(error)) throw error.status === 413 ? new UpstreamError(error.message) : error;
    throw new UpstreamError(`the upstream's document for ${name} is not valid JSON`);
  }
  const doc = sanitizeUpstreamPackage(value, name);
  if (!doc) throw new UpstreamError(`the upstream's document for ${name} is not a package document`);
  return { doc, cache: result.cache };
}

/** `packages/<name>/<version>/tarball` on a proxy of a registry: verified against the sha256 its document announces. */
export async function upstreamTarball(ctx: FormatRequestContext, repo: ProxyRepositoryHandle, name: string, version: string): Promise<FormatResponse> {
  if (!upstreamIsRegistry(repo)) throw new NotFoundError(`${repo.name} is a URL cache: it holds no packages by name`);
  const result = await repo.upstream.serve({
    path: `packages/${name}/${version}/tarball`,
    kind: 'content',
    contentType: 'application/gzip',
    maxBytes: repo.limits.maxUploadBytes,
    prepare: async () => {
      const loaded = await loadUpstreamPackage(repo, name);
      const record = loaded?.doc.versions[version];
      if (!record) return undefined;
      return { upstreamUrl: `packages/${encodeURIComponent(name)}/${encodeURIComponent(version)}/tarball`, expect: { sha256: record.sha256 }, contentType: ARCHIVE_TYPES[record.archive] };
    },
  });
  if (!result.found) throw new NotFoundError(`${name} ${version} is not upstream`);
  return { body: result.body, cache: result.cache };
}

/** What the URL cache knows of a URL it fetched: `url/<sha256 of the URL>`. */
interface CachedUrl {
  readonly url: string;
  readonly sha256: string;
  readonly archive?: string;
  readonly multihash?: string;
  readonly multihash011?: string;
  readonly packageHash?: string;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = { ...ARCHIVE_TYPES, 'tar.zst': 'application/zstd', tar: 'application/x-tar' };

/** A URL a client asks the cache for: absolute http(s), no credentials, no fragment, bounded. */
export function cacheableUrl(raw: string | undefined): URL {
  if (!raw) throw new BadRequestError('name the archive: fetch?url=<http(s) URL of a .tar.gz>');
  if (raw.length > 4096) throw new BadRequestError('the URL is longer than 4096 characters');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new BadRequestError(`not a URL: ${JSON.stringify(raw.slice(0, 200))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BadRequestError('only http and https URLs can be cached (git+https dependencies are not)');
  if (url.username || url.password) throw new BadRequestError('a cached URL must not carry credentials');
  url.hash = '';
  return url;
}

/** The URL of the path-encoded form `url/<scheme>/<host[:port]>/<path…>`. */
export function urlFromPath(segments: readonly string[], query: URLSearchParams): URL {
  const [scheme, host, ...rest] = segments;
  if ((scheme !== 'http' && scheme !== 'https') || !host || rest.length === 0) throw new BadRequestError('the path form is url/<http|https>/<host[:port]>/<path of the archive>');
  if (rest.some((s) => s === '' || s === '.' || s === '..' || s.includes('/'))) throw new BadRequestError('the archive path has empty, dot or encoded-slash segments');
  const search = new URLSearchParams(query);
  search.delete('hash');
  const q = search.toString();
  return cacheableUrl(`${scheme}://${host}/${rest.map(encodeURIComponent).join('/')}${q ? `?${q}` : ''}`);
}

/**
 * The URL cache of a proxy: fetch `url` once (from an allowed origin: the upstream's, or
 * `cache.allowedOrigins`), compute its zig hash, keep it content-addressed and serve it from
 * then on, whatever becomes of the origin. With `hash`, the archive must hash to it (any of
 * zig's forms): a mismatch is refused and nothing stays stored.
 */
export async function serveCachedUrl(ctx: FormatRequestContext, repo: ProxyRepositoryHandle, url: URL, hash: string | undefined): Promise<FormatResponse> {
  if (hash !== undefined && !isZigHash(hash)) throw new BadRequestError(`not a zig package hash: ${JSON.stringify(hash.slice(0, 100))}`);
  if (!repo.upstream.allows(url.href)) {
    throw new ForbiddenError(`${repo.name} may not fetch from ${url.origin}: the URL cache takes the upstream's origin and cache.allowedOrigins only`);
  }
  const key = createHash('sha256').update(url.href).digest('hex');
  const known = await repo.kv.get<CachedUrl>(`url/${key}`);
  if (known) {
    const asset = await repo.assets.get(archivePath(known.sha256));
    if (asset) {
      if (hash !== undefined && ![known.multihash, known.multihash011, known.packageHash].includes(hash)) {
        throw new UpstreamError(`hash mismatch: the archive cached for ${url.href} hashes to ${known.packageHash ?? known.multihash ?? 'no zig hash'}, not ${hash}`);
      }
      return { body: { kind: 'asset', asset }, cache: 'HIT', headers: hashHeaders(known) };
    }
  }
  const fetchPath = `fetched/${key}`;
  const result = await repo.upstream
    .fetch({ path: fetchPath, upstreamUrl: url.href, kind: 'content', contentType: 'application/octet-stream', maxBytes: repo.limits.maxUploadBytes })
    .catch((error: unknown) => {
      // The client chose the URL: a private address or a redirect off the allowed origins is its request refused.
      if (isUpstreamRefusal(error)) throw new ForbiddenError(`${repo.name} will not fetch ${url.href}: ${error.message}`);
      throw error;
    });
  if (!result.found) throw new NotFoundError(`${url.href} answered 404`);
  let stored: Asset | undefined;
  try {
    const kind = sniffArchive(await head(result.asset));
    if (kind === undefined) throw new BadRequestError(`${url.href} is not an archive zig unpacks`);
    const digest = await archiveDigest(result.asset, kind);
    if (hash !== undefined && (!digest || !matchesHash(digest, hash))) {
      throw new UpstreamError(`hash mismatch: ${url.href} hashes to ${digest ? (digest.packageHash ?? digest.multihash) : `nothing this registry computes (a ${kind})`}, not ${hash}; nothing was kept`);
    }
    const entry: CachedUrl = {
      url: url.href,
      sha256: result.asset.digests.sha256,
      archive: kind,
      ...(digest ? { multihash: digest.multihash, ...(digest.multihash011 ? { multihash011: digest.multihash011 } : {}), ...(digest.packageHash ? { packageHash: digest.packageHash } : {}) } : {}),
    };
    stored = await repo.assets.link(archivePath(entry.sha256), result.asset, { kind: 'content', contentType: CONTENT_TYPES[kind] ?? 'application/octet-stream' });
    await repo.kv.set(`url/${key}`, entry);
    for (const h of [entry.multihash, entry.multihash011, entry.packageHash]) if (h) await repo.kv.set<HashEntry>(hashKey(h), { url: url.href });
    return { body: { kind: 'asset', asset: stored }, cache: result.cache, headers: hashHeaders(entry) };
  } catch (error) {
    // Refused content is not kept, under its URL nor content-addressed.
    if (!stored) await repo.assets.delete(fetchPath).catch(() => undefined);
    if (error instanceof BadRequestError) throw new UpstreamError(`${url.href}: ${error.message}`);
    throw error;
  } finally {
    if (stored) await repo.assets.delete(fetchPath).catch(() => undefined);
  }
}

const archivePath = (sha256: string) => `archives/${sha256}`;

/**
 * The zig hash of a fetched archive, as {@link hashArchive} / {@link hashZip} compute it: a
 * tar (plain, gzip or xz) as it streams; a zip, read from its central directory, from a
 * temporary copy on disk (the asset may live in an object store). Undefined for zstd, which
 * no decoder here reads.
 */
async function archiveDigest(asset: Asset, kind: NonNullable<ReturnType<typeof sniffArchive>>): Promise<PackageDigest | undefined> {
  const limits = { maxExpandedBytes: Math.max(64 * 1024 * 1024, Math.min(4 * 1024 * 1024 * 1024, asset.size * 200)) };
  if (kind === 'tar.zst') return undefined;
  if (kind !== 'zip') return hashArchive(await asset.open(), kind, asset.size, limits);
  const dir = await mkdtemp(path.join(tmpdir(), 'rc-zig-'));
  try {
    const file = path.join(dir, 'archive.zip');
    await pipeline(await asset.open(), createWriteStream(file, { flags: 'wx', mode: 0o600 }));
    return await hashZip(file, asset.size, limits);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The zig hash of a cached archive, for a client that wants to know it (`X-Zig-Hash`). */
function hashHeaders(entry: CachedUrl): Record<string, string> {
  const hash = entry.packageHash ?? entry.multihash;
  // zig 0.11 hashes every file, whatever `.paths` says.
  const legacy: Record<string, string> = entry.multihash011 && entry.multihash011 !== hash ? { 'x-zig-hash-0-11': entry.multihash011 } : {};
  return hash ? { 'x-zig-hash': hash, ...legacy } : {};
}

async function head(asset: Asset): Promise<Buffer> {
  const stream = await asset.open({ start: 0, end: Math.min(asset.size, 512) - 1 });
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
