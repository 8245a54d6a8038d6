import {
  NotFoundError,
  UpstreamError,
  isRegistryError,
  type CacheStatus,
  type FormatRequestContext,
  type FormatResponse,
  type ProxyCache,
  type RepositoryServices,
  type UpstreamPreparation,
} from '@registry-core/api';
import { packagePath, type ChannelDocument } from './hosted.js';
import { tryParsePackageFilename } from './names.js';
import { sectionOf, type PackageRecord, type Repodata } from './repodata.js';

/**
 * Largest upstream repodata a proxy takes unless `cache.maxMetadataSize` says otherwise:
 * conda-forge's linux-64 `repodata.json` is a few hundred megabytes.
 */
export const MAX_REPODATA_BYTES = 1024 * 1024 * 1024;

/** An upstream subdir's repodata as this registry serves it, with where its files are upstream. */
export interface UpstreamRepodata {
  readonly repodata: Repodata;
  /** Where the upstream keeps the subdir's files (its `info.base_url`, else next to the repodata). */
  readonly filesUrl: string;
  readonly cache: CacheStatus;
  /** sha256 of the upstream bytes: the identity of everything derived from them. */
  readonly revision: string;
  readonly modified: Date;
}

function records(value: unknown, subdir: string): Record<string, PackageRecord> {
  const out: Record<string, PackageRecord> = {};
  if (typeof value !== 'object' || value === null) return out;
  for (const [filename, record] of Object.entries(value as Record<string, unknown>)) {
    // A file name unsafe as a path segment or not conda's, or a record without a name, is left out.
    const parsed = tryParsePackageFilename(filename);
    if (!parsed || typeof record !== 'object' || record === null || (record as { name?: unknown }).name !== parsed.name) continue;
    out[filename] = { ...(record as PackageRecord), subdir: (record as { subdir?: unknown }).subdir === undefined ? subdir : (record as PackageRecord).subdir };
  }
  return out;
}

/**
 * The upstream's `<subdir>/repodata.json`, cached as metadata (the repository's TTL,
 * revalidation, stale answers when the upstream fails, coalescing: the kernel's), parsed
 * once per upstream revision. `info.base_url` (repodata v2) is taken out: files are served
 * through this registry, next to the repodata.
 */
export async function loadUpstreamRepodata(repo: RepositoryServices, upstream: ProxyCache, subdir: string): Promise<UpstreamRepodata | undefined> {
  const maxBytes = repo.limits.maxMetadataBytes;
  const result = await upstream.fetch({ path: `${subdir}/repodata.json`, kind: 'metadata', contentType: 'application/json', maxBytes, headers: { accept: 'application/json' } });
  if (!result.found) return undefined;
  const asset = result.asset;
  const key = `upstream-repodata/${subdir}/${asset.digests.sha256}`;
  const cached = repo.derived.get<Omit<UpstreamRepodata, 'cache'>>(key);
  if (cached) return { ...cached, cache: result.cache };
  let raw: Record<string, unknown>;
  try {
    raw = await asset.readJson<Record<string, unknown>>(maxBytes);
  } catch (error) {
    if (isRegistryError(error) && error.status !== 413) throw error;
    throw new UpstreamError(`the upstream's ${subdir}/repodata.json ${isRegistryError(error) ? 'is too large' : 'is not valid JSON'}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UpstreamError(`the upstream's ${subdir}/repodata.json is not a JSON object`);
  const subdirUrl = new URL(`${subdir}/`, upstream.upstreamUrl).href;
  const info = (raw['info'] ?? {}) as { base_url?: unknown };
  const filesUrl = typeof info.base_url === 'string' && info.base_url !== '' ? new URL(info.base_url.endsWith('/') ? info.base_url : `${info.base_url}/`, subdirUrl).href : subdirUrl;
  const removed = Array.isArray(raw['removed']) ? (raw['removed'] as unknown[]).filter((f): f is string => typeof f === 'string' && tryParsePackageFilename(f) !== undefined) : [];
  const repodata: Repodata = { info: { subdir }, packages: records(raw['packages'], subdir), 'packages.conda': records(raw['packages.conda'], subdir), removed, repodata_version: 1 };
  const value = { repodata, filesUrl, revision: asset.digests.sha256, modified: asset.updatedAt };
  repo.derived.set(key, value, asset.size * 2);
  return { ...value, cache: result.cache };
}

/** The upstream's `channeldata.json`, cached as metadata; `undefined` when it has none. */
export async function loadUpstreamChannel(repo: RepositoryServices, upstream: ProxyCache): Promise<{ channel: ChannelDocument; cache: CacheStatus; revision: string } | undefined> {
  const maxBytes = repo.limits.maxMetadataBytes;
  const result = await upstream.fetch({ path: 'channeldata.json', kind: 'metadata', contentType: 'application/json', maxBytes });
  if (!result.found) return undefined;
  const raw = await result.asset.readJson<{ subdirs?: unknown; packages?: unknown }>(maxBytes).catch(() => {
    throw new UpstreamError("the upstream's channeldata.json is not valid JSON");
  });
  const subdirs = Array.isArray(raw?.subdirs) ? raw.subdirs.filter((s): s is string => typeof s === 'string') : [];
  const packages = typeof raw?.packages === 'object' && raw.packages !== null ? (raw.packages as ChannelDocument['packages']) : {};
  return { channel: { subdirs, packages }, cache: result.cache, revision: result.asset.digests.sha256 };
}

/**
 * `GET /<subdir>/<file>` on a proxy: the upstream's repodata says whether the file exists
 * and what it must hash to (read only on a miss); the file is verified before it is cached,
 * then immutable.
 */
export async function getProxyPackage(ctx: FormatRequestContext, upstream: ProxyCache, subdir: string, filename: string): Promise<FormatResponse> {
  const repo = ctx.repository;
  const prepare = async (): Promise<UpstreamPreparation> => {
    const loaded = await loadUpstreamRepodata(repo, upstream, subdir);
    const record = loaded?.repodata[sectionOf(filename)][filename];
    if (!loaded || !record) throw new NotFoundError(`${subdir}/${filename} is not in the upstream's repodata`);
    const sha256 = typeof record.sha256 === 'string' && /^[0-9a-f]{64}$/i.test(record.sha256) ? record.sha256.toLowerCase() : undefined;
    const md5 = typeof record.md5 === 'string' && /^[0-9a-f]{32}$/i.test(record.md5) ? record.md5.toLowerCase() : undefined;
    if (!sha256 && !md5) throw new UpstreamError(`the upstream announces no digest for ${filename}; refusing to cache unverifiable content`);
    const size = typeof record.size === 'number' && Number.isSafeInteger(record.size) && record.size >= 0 ? record.size : undefined;
    const url = new URL(encodeURIComponent(filename), loaded.filesUrl).href;
    if (!upstream.allows(url)) throw new UpstreamError(`${filename} is hosted at ${new URL(url).origin}, which this proxy may not fetch from: add it to cache.allowedOrigins`);
    return { upstreamUrl: url, expect: { ...(sha256 ? { sha256 } : { md5: md5! }), ...(size !== undefined ? { size } : {}) } };
  };
  const result = await upstream.serve({
    path: packagePath(subdir, filename),
    kind: 'content',
    contentType: 'application/octet-stream',
    maxBytes: Math.max(repo.limits.maxUploadBytes * 4, 4 * 1024 ** 3),
    prepare,
  });
  if (!result.found) throw new NotFoundError(`${subdir}/${filename} is not upstream`);
  return { body: result.body, cache: result.cache };
}
