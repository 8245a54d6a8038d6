import {
  type Asset,
  type CacheStatus,
  type FormatRequestContext,
  type FormatResponse,
  type ProxyCache,
  type RepositoryHandle,
  type UpstreamPreparation,
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

interface Challenge {
  readonly scheme: 'none' | 'basic' | 'bearer';
  readonly realm?: string;
  readonly service?: string;
  readonly until: number;
}

const challenges = new Map<string, Challenge>();
const tokens = new Map<string, { value: string; until: number }>();

/** `Bearer realm="...",service="..."` → its parameters. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  const params: Record<string, string> = {};
  for (const p of (m?.[2] ?? '').matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) params[p[1]!.toLowerCase()] = p[2] ?? p[3] ?? '';
  return { scheme: (m?.[1] ?? '').toLowerCase(), params };
}

function configuredCredentials(repository: RepositoryHandle): { username: string; password: string } | undefined {
  const auth = repository.config['upstreamAuth'] as { username?: unknown; password?: unknown } | undefined;
  if (!auth || typeof auth.username !== 'string' || typeof auth.password !== 'string') return undefined;
  return { username: auth.username, password: auth.password };
}

/**
 * `Authorization` for upstream requests about `image`: nothing, Basic with the configured
 * credentials, or a Bearer token from the upstream's token realm (bought with them, or
 * anonymous), cached until it expires. The upstream's challenge is learnt from `/v2/`.
 */
export async function upstreamAuthorization(repository: RepositoryHandle, upstream: ProxyCache, image: string): Promise<string | undefined> {
  const key = repository.name;
  let challenge = challenges.get(key);
  if (!challenge || challenge.until < Date.now()) {
    const probe = await upstream.passthrough({ method: 'GET', upstreamUrl: 'v2/', maxBytes: 64 * 1024 });
    const header = probe.headers['www-authenticate'];
    if (probe.status === 401 && header) {
      const parsed = parseChallenge(header);
      challenge =
        parsed.scheme === 'bearer' && parsed.params['realm']
          ? { scheme: 'bearer', realm: parsed.params['realm'], ...(parsed.params['service'] ? { service: parsed.params['service'] } : {}), until: Date.now() + 600_000 }
          : { scheme: 'basic', until: Date.now() + 600_000 };
    } else {
      challenge = { scheme: 'none', until: Date.now() + 600_000 };
    }
    challenges.set(key, challenge);
  }
  const credentials = configuredCredentials(repository);
  const basic = credentials ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` : undefined;
  if (challenge.scheme === 'none') return undefined;
  if (challenge.scheme === 'basic') return basic;
  const scope = `repository:${upstreamName(upstream, image)}:pull`;
  const tokenKey = `${key}\n${scope}`;
  const cached = tokens.get(tokenKey);
  if (cached && cached.until > Date.now()) return `Bearer ${cached.value}`;
  const realm = new URL(challenge.realm!, upstream.upstreamUrl);
  if (challenge.service) realm.searchParams.set('service', challenge.service);
  realm.searchParams.set('scope', scope);
  if (!upstream.allows(realm.href)) throw ociError('DENIED', `the upstream's token service ${realm.origin} is not an allowed origin (cache.allowedOrigins)`, 502);
  const answer = await upstream.passthrough({ method: 'GET', upstreamUrl: realm.href, ...(basic ? { authorization: basic } : {}), maxBytes: 1024 * 1024 });
  if (answer.status !== 200) throw ociError('UNAUTHORIZED', `the upstream's token service answered ${answer.status}`, 502);
  let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
  try {
    parsed = JSON.parse(answer.body.toString('utf8')) as typeof parsed;
  } catch {
    throw ociError('UNAUTHORIZED', "the upstream's token service answered no JSON", 502);
  }
  const token = typeof parsed.token === 'string' ? parsed.token : typeof parsed.access_token === 'string' ? parsed.access_token : undefined;
  if (!token) throw ociError('UNAUTHORIZED', "the upstream's token service sent no token", 502);
  const seconds = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : 60;
  if (tokens.size > 10_000) tokens.clear();
  tokens.set(tokenKey, { value: token, until: Date.now() + Math.max(1, seconds - 10) * 1000 });
  return `Bearer ${token}`;
}

function prepare(repository: RepositoryHandle, upstream: ProxyCache, image: string): () => Promise<UpstreamPreparation> {
  return async () => {
    const authorization = await upstreamAuthorization(repository, upstream, image);
    return authorization ? { authorization } : {};
  };
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
      prepare: prepare(repository, upstream, image),
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
    prepare: prepare(repository, upstream, image),
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
    const authorization = await upstreamAuthorization(repository, upstream, image);
    const answer = await upstream.passthrough({ method: 'HEAD', upstreamUrl: `v2/${name}/blobs/${digest.text}`, ...(authorization ? { authorization } : {}), maxBytes: 1024 });
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
    prepare: prepare(repository, upstream, image),
  });
  if (!result.found) throw ociError('BLOB_UNKNOWN', `blob ${digest.text} of ${image} is unknown upstream`, 404);
  return { body: result.body, headers: { 'Docker-Content-Digest': digest.text }, cachePolicy: 'immutable', cache: result.cache };
}

/** The upstream's tags of an image (one list, revalidated after the TTL), with how the cache answered. */
export async function proxyTags(ctx: FormatRequestContext, upstream: ProxyCache, image: string): Promise<{ tags: string[]; cache: CacheStatus } | undefined> {
  const repository = ctx.repository;
  const name = upstreamName(upstream, image);
  const result = await upstream.fetch({
    path: paths.tagListCache(image),
    upstreamUrl: `v2/${name}/tags/list`,
    kind: 'metadata',
    contentType: 'application/json',
    maxBytes: 16 * 1024 * 1024,
    prepare: prepare(repository, upstream, image),
  });
  if (!result.found) return undefined;
  let doc: { tags?: unknown };
  try {
    doc = JSON.parse((await result.asset.read(16 * 1024 * 1024)).toString('utf8')) as { tags?: unknown };
  } catch {
    throw ociError('UNKNOWN', 'the upstream sent a tag list that is not JSON', 502);
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
      prepare: prepare(repository, upstream, image),
    });
  } catch {
    return [];
  }
  if (!result.found) return [];
  try {
    const doc = JSON.parse((await result.asset.read(4 * 1024 * 1024)).toString('utf8')) as { manifests?: unknown };
    return Array.isArray(doc.manifests) ? (doc.manifests as Record<string, unknown>[]).filter((d) => typeof d === 'object' && d !== null && typeof d['digest'] === 'string') : [];
  } catch {
    return [];
  }
}

export { digestOf };
