import {
  type Asset,
  type CacheStatus,
  type FormatRequestContext,
  type FormatResponse,
  type ProxyCache,
  type RepositoryHandle,
  isRegistryError,
} from '@registry-core/api';
import { blobResponse, manifestResponse, type CatalogDocument } from './hosted.js';
import { ACCEPTED_MANIFEST_TYPES, MAX_MANIFEST_BYTES, digestOf } from './manifest.js';
import { checkTag, documents, isDigest, parseDigest, paths, type Digest } from './names.js';
import { ociError } from './responses.js';

/** Docker Hub keeps official images under `library/`: `nginx` there is `library/nginx`. */
function isDockerHub(upstream: string): boolean {
  const host = new URL(upstream).hostname;
  return host === 'registry-1.docker.io' || host === 'docker.io' || host === 'index.docker.io';
}

/** The image's name on the upstream. */
export function upstreamName(upstream: ProxyCache, image: string): string {
  return isDockerHub(upstream.upstreamUrl) && !image.includes('/') ? `library/${image}` : image;
}

/**
 * The token scope an upstream using the Docker registry token flow wants for an image (the
 * kernel buys and presents the token with the repository's `upstreamAuth`).
 */
function scopeOf(upstream: ProxyCache, image: string): string {
  return `repository:${upstreamName(upstream, image)}:pull`;
}

function expectOf(digest: Digest): { sha256: string } | { sha512: string } {
  return digest.algorithm === 'sha256' ? { sha256: digest.hex } : { sha512: digest.hex };
}

async function remember(repository: RepositoryHandle, image: string): Promise<void> {
  await repository.documents.update<CatalogDocument>(documents.catalog, (current) =>
    current?.images.includes(image) ? current : { images: [...(current?.images ?? []), image].sort() },
  );
}

/** A manifest by tag (revalidated after the TTL) or by digest (immutable), through the cache. */
export async function proxyManifest(ctx: FormatRequestContext, upstream: ProxyCache, image: string, reference: string): Promise<FormatResponse> {
  const repository = ctx.repository;
  const name = upstreamName(upstream, image);
  const headers = { accept: ACCEPTED_MANIFEST_TYPES };
  if (isDigest(reference)) {
    const digest = parseDigest(reference);
    const result = await upstream.fetch({
      path: paths.manifest(image, digest),
      upstreamUrl: `v2/${name}/manifests/${digest.text}`,
      kind: 'content',
      headers,
      expect: expectOf(digest),
      maxBytes: MAX_MANIFEST_BYTES,
      tokenScope: scopeOf(upstream, image),
    });
    if (!result.found) throw ociError('MANIFEST_UNKNOWN', `manifest ${digest.text} of ${image} is unknown upstream`, 404);
    if (result.cache === 'MISS') await remember(repository, image);
    return manifestResponse(result.asset, digest, result.cache);
  }
  const tag = checkTag(reference);
  const result = await upstream.fetch({
    path: paths.tagCache(image, tag),
    upstreamUrl: `v2/${name}/manifests/${tag}`,
    kind: 'metadata',
    headers,
    // A tag is re-checked with a HEAD (Docker Hub does not count those against its pull
    // limit): the same digest keeps the cached manifest.
    revalidate: { unchanged: (h, cached) => h['docker-content-digest'] === `sha256:${cached.digests.sha256}` },
    maxBytes: MAX_MANIFEST_BYTES,
    tokenScope: scopeOf(upstream, image),
  });
  if (!result.found) throw ociError('MANIFEST_UNKNOWN', `manifest ${tag} of ${image} is unknown upstream`, 404);
  const digest = parseDigest(`sha256:${result.asset.digests.sha256}`);
  // Kept by digest as well: a pull by digest works without the upstream, and GC keeps it.
  const byDigest = paths.manifest(image, digest);
  if (!(await repository.assets.get(byDigest))) {
    await repository.assets.link(byDigest, result.asset, { kind: 'content' });
    await remember(repository, image);
  }
  return manifestResponse(result.asset, digest, result.cache);
}

export async function proxyBlob(ctx: FormatRequestContext, upstream: ProxyCache, image: string, digest: Digest): Promise<FormatResponse> {
  const repository = ctx.repository;
  const local: Asset | undefined = await repository.assets.get(paths.blob(image, digest));
  if (local) return blobResponse(local, digest, 'HIT');
  const name = upstreamName(upstream, image);
  if (ctx.method === 'HEAD') {
    // Existence only: no need to pull the whole blob.
    const answer = await upstream.passthrough({ method: 'HEAD', upstreamUrl: `v2/${name}/blobs/${digest.text}`, tokenScope: scopeOf(upstream, image), maxBytes: 1024 });
    if (answer.status !== 200) throw ociError('BLOB_UNKNOWN', `blob ${digest.text} of ${image} is unknown upstream`, 404);
    return { status: 200, headers: { 'Docker-Content-Digest': digest.text, 'Content-Length': answer.headers['content-length'] ?? '0', 'Content-Type': 'application/octet-stream' }, cachePolicy: 'no-store', cache: 'MISS' };
  }
  const result = await upstream.serve({
    path: paths.blob(image, digest),
    upstreamUrl: `v2/${name}/blobs/${digest.text}`,
    kind: 'content',
    expect: expectOf(digest),
    contentType: 'application/octet-stream',
    maxBytes: repository.limits.maxUploadBytes,
    tokenScope: scopeOf(upstream, image),
  });
  if (!result.found) throw ociError('BLOB_UNKNOWN', `blob ${digest.text} of ${image} is unknown upstream`, 404);
  return { body: result.body, headers: { 'Docker-Content-Digest': digest.text }, cachePolicy: 'immutable', cache: result.cache };
}

/**
 * Largest upstream tag list a proxy takes unless `cache.maxMetadataSize` says otherwise
 * (images with tens of thousands of tags list well under a megabyte).
 */
export const MAX_TAG_LIST_BYTES = 16 * 1024 * 1024;

/** The upstream's tags of an image (one list, revalidated after the TTL), with how the cache answered. */
export async function proxyTags(ctx: FormatRequestContext, upstream: ProxyCache, image: string): Promise<{ tags: string[]; cache: CacheStatus } | undefined> {
  const repository = ctx.repository;
  const name = upstreamName(upstream, image);
  const result = await upstream.fetch({
    path: paths.tagListCache(image),
    upstreamUrl: `v2/${name}/tags/list`,
    kind: 'metadata',
    contentType: 'application/json',
    maxBytes: repository.limits.maxMetadataBytes,
    tokenScope: scopeOf(upstream, image),
  });
  if (!result.found) return undefined;
  let doc: { tags?: unknown };
  try {
    // Parsed under the host's metadata memory, without holding the event loop.
    doc = await result.asset.readJson<{ tags?: unknown }>(repository.limits.maxMetadataBytes);
  } catch (error) {
    if (isRegistryError(error) && error.status !== 413) throw error;
    throw ociError('UNKNOWN', isRegistryError(error) ? error.message : 'the upstream sent a tag list that is not JSON', 502);
  }
  const tags = Array.isArray(doc.tags) ? doc.tags.filter((t): t is string => typeof t === 'string' && /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/.test(t)) : [];
  return { tags, cache: result.cache };
}

/** The upstream's referrers of a digest; none when the upstream has no referrers API. */
export async function proxyReferrers(ctx: FormatRequestContext, upstream: ProxyCache, image: string, subject: Digest): Promise<Record<string, unknown>[]> {
  const repository = ctx.repository;
  const name = upstreamName(upstream, image);
  let result;
  try {
    result = await upstream.fetch({
      path: paths.referrersCache(image, subject),
      upstreamUrl: `v2/${name}/referrers/${subject.text}`,
      kind: 'metadata',
      contentType: 'application/vnd.oci.image.index.v1+json',
      maxBytes: 4 * 1024 * 1024,
      tokenScope: scopeOf(upstream, image),
    });
  } catch {
    return [];
  }
  if (!result.found) return [];
  try {
    const doc = await result.asset.readJson<{ manifests?: unknown }>(4 * 1024 * 1024);
    return Array.isArray(doc.manifests) ? (doc.manifests as Record<string, unknown>[]).filter((d) => typeof d === 'object' && d !== null && typeof d['digest'] === 'string') : [];
  } catch {
    return [];
  }
}

export { digestOf };
