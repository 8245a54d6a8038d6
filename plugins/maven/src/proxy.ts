import {
  NotFoundError,
  UpstreamError,
  assetResponse,
  type Asset,
  type DerivedCache,
  type ExpectedDigests,
  type FormatRequestContext,
  type FormatResponse,
  type LoadedDocument,
  type ProxyCache,
  type UpstreamFetch,
  isRegistryError,
} from '@registry-core/api';
import { mavenConfig, policyAllows } from './config.js';
import { DIGEST_LENGTH, type ArtifactPath, type MavenPath, type MetadataPath } from './paths.js';
import { checksumResponse, contentTypeOf } from './responses.js';
import { packageOf } from './hosted.js';
import { parseMetadata, type MavenMetadata } from './metadata.js';

/**
 * Largest metadata document taken from an upstream unless `cache.maxMetadataSize` says
 * otherwise (real `maven-metadata.xml` files are kilobytes, the largest a few megabytes).
 */
export const MAX_METADATA_BYTES = 16 * 1024 * 1024;
/** The upstream sidecars an artifact is verified against, in order of preference. */
const VERIFY_WITH = ['sha1', 'md5'] as const;

type FilePath = Exclude<MavenPath, { kind: 'directory' }>;

/**
 * The checksum the upstream publishes beside `path` (`.sha1`, else `.md5`), asked only on a
 * cache miss. `undefined` when it publishes none; an upstream failure, or a sidecar that
 * holds no digest, is an error (nothing unverifiable is cached when a checksum exists).
 */
async function upstreamChecksum(upstream: ProxyCache, path: string): Promise<ExpectedDigests | undefined> {
  for (const algorithm of VERIFY_WITH) {
    const answer = await upstream.passthrough({ method: 'GET', upstreamUrl: `${path}.${algorithm}`, maxBytes: 4096 });
    if (answer.status === 404 || answer.status === 410) continue;
    if (answer.status < 200 || answer.status >= 300) throw new UpstreamError(`upstream answered ${answer.status} for ${path}.${algorithm}`);
    const text = answer.body.toString('utf8');
    // Sidecars are `<hex>`, `<hex>  <file>`, or (older tools) `<file>: <hex>` / `SHA1(<file>)= <hex>`.
    const digest = new RegExp(`(?:^|[^0-9a-f])([0-9a-f]{${DIGEST_LENGTH[algorithm]}})(?:$|[^0-9a-f])`, 'i').exec(text)?.[1];
    if (!digest) throw new UpstreamError(`upstream's ${path}.${algorithm} holds no ${algorithm} checksum`);
    return { [algorithm]: digest.toLowerCase() };
  }
  return undefined;
}

/** Proxies (one per repository and its upstream) already warned that their upstream publishes no checksums. */
const warnedNoChecksum = new WeakSet<ProxyCache>();

/**
 * Say once per proxy that its upstream publishes no checksums: a build resolving hundreds of
 * artifacts from such an upstream would otherwise log hundreds of identical warnings.
 */
function warnNoChecksum(ctx: FormatRequestContext, upstream: ProxyCache, path: string): void {
  if (warnedNoChecksum.has(upstream)) {
    ctx.logger.debug('upstream publishes no checksum; caching without verification', { path });
    return;
  }
  warnedNoChecksum.add(upstream);
  ctx.logger.warn(`upstream ${upstream.upstreamUrl} publishes no checksum (.sha1 or .md5); caching its artifacts without verification (said once for this repository)`, { path });
}

/** How the proxy caches a path: release artifacts for good, everything else as metadata. */
function fetchOf(ctx: FormatRequestContext, upstream: ProxyCache, target: FilePath): UpstreamFetch {
  const name = target.path.slice(target.path.lastIndexOf('/') + 1);
  // A timestamped SNAPSHOT build never changes; `lib-1.0-SNAPSHOT.jar` (non-unique) does.
  const immutable = target.kind === 'artifact' && (!target.snapshot || target.build !== undefined);
  if (!immutable) return { path: target.path, kind: 'metadata', contentType: contentTypeOf(name), maxBytes: ctx.repository.limits.maxMetadataBytes };
  return {
    path: target.path,
    kind: 'content',
    contentType: contentTypeOf(name),
    maxBytes: ctx.repository.limits.maxUploadBytes * 4,
    prepare: async () => {
      const expect = await upstreamChecksum(upstream, target.path);
      if (!expect) warnNoChecksum(ctx, upstream, target.path);
      return expect ? { expect } : {};
    },
  };
}

/** A SNAPSHOT path on a release proxy (or the reverse) is not served. */
function allowed(ctx: FormatRequestContext, target: FilePath): boolean {
  const policy = mavenConfig(ctx.repository.config).versionPolicy;
  if (target.kind === 'artifact') return policyAllows(policy, target.snapshot);
  // A SNAPSHOT version's own metadata is a SNAPSHOT path too.
  if (target.kind === 'metadata' && target.directory[target.directory.length - 1]!.endsWith('-SNAPSHOT')) return policyAllows(policy, true);
  return true;
}

/** The file through the cache, stored (for a checksum, which is computed from the stored bytes). */
async function cached(ctx: FormatRequestContext, upstream: ProxyCache, target: FilePath): Promise<{ asset: Asset; cache: FormatResponse['cache'] } | undefined> {
  const result = await upstream.fetch(fetchOf(ctx, upstream, target));
  return result.found ? { asset: result.asset, cache: result.cache } : undefined;
}

/**
 * `GET` on a proxy: a path-preserving cache of the upstream. Checksums are computed from the
 * cached file, so they always describe the bytes this registry serves.
 */
export async function getProxyFile(ctx: FormatRequestContext, upstream: ProxyCache, target: FilePath): Promise<FormatResponse> {
  if (target.kind === 'artifact') ctx.authorize('read', packageOf(target as ArtifactPath));
  const missing = () => new NotFoundError(`${target.path}${target.checksum ? `.${target.checksum}` : ''} is not in ${ctx.repository.name}`);
  if (!allowed(ctx, target)) throw missing();
  if (target.checksum) {
    const found = await cached(ctx, upstream, target);
    if (!found) throw missing();
    if (target.kind === 'metadata') await checkMetadata(ctx, found.asset);
    return { ...checksumResponse(await found.asset.digest(target.checksum), found.asset.kind === 'content' ? 'immutable' : 'metadata'), ...(found.cache ? { cache: found.cache } : {}) };
  }
  if (target.kind === 'metadata') {
    const found = await cached(ctx, upstream, target);
    if (!found) throw missing();
    await checkMetadata(ctx, found.asset);
    return { ...assetResponse(found.asset), ...(found.cache ? { cache: found.cache } : {}) };
  }
  const result = await upstream.serve(fetchOf(ctx, upstream, target));
  if (!result.found) throw missing();
  return { body: result.body, cache: result.cache };
}

/**
 * An upstream's `maven-metadata.xml` must be metadata: an error page answered with 200
 * would otherwise stay in the cache for its TTL and break every build. It is dropped and
 * the client gets a 502.
 */
async function checkMetadata(ctx: FormatRequestContext, asset: Asset): Promise<MavenMetadata> {
  try {
    // Parsed under the host's metadata memory.
    return await asset.withBytes(ctx.repository.limits.maxMetadataBytes, (bytes) => parseMetadata(bytes.toString('utf8')));
  } catch (error) {
    if (isRegistryError(error) && error.code === 'METADATA_MEMORY_BUSY') throw error;
    await ctx.repository.assets.delete(asset.path);
    throw new UpstreamError(`the upstream's ${asset.path} is not Maven metadata: ${(error as Error).message}`);
  }
}

/**
 * The upstream's metadata of a folder, parsed (for a group merging it): `undefined` when the
 * upstream has none, or when the folder is a SNAPSHOT version's and this proxy serves none.
 * Its revision is the cached file's sha256; the parsed document is kept under it in the
 * kernel's derived memory (shared: never mutated), so a group's hot folder is not parsed per
 * request.
 */
export async function loadProxyMetadata(ctx: FormatRequestContext, upstream: ProxyCache, target: MetadataPath, derived: DerivedCache): Promise<LoadedDocument<MavenMetadata> | undefined> {
  if (!allowed(ctx, target)) return undefined;
  const found = await cached(ctx, upstream, target);
  if (!found) return undefined;
  const revision = found.asset.digests.sha256;
  const key = `maven:parsed\u0000${revision}`;
  let value = derived.get<MavenMetadata>(key);
  if (!value) {
    value = await checkMetadata(ctx, found.asset);
    // A parsed document costs about twice its text.
    derived.set(key, value, found.asset.size * 2, `maven:parsed\u0000${target.path}`);
  }
  return { value, ...(found.cache ? { cache: found.cache } : {}), revision };
}
