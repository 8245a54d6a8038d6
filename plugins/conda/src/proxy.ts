import {
  NotFoundError,
  UpstreamError,
  jsonObjectMembers,
  type Asset,
  type CacheStatus,
  type FormatRequestContext,
  type FormatResponse,
  type ProxyCache,
  type RepositoryServices,
  type UpstreamPreparation,
} from '@registry-core/api';
import { packagePath, type ChannelDocument } from './hosted.js';
import { tryParseChannelFilename } from './names.js';
import { sectionOf, type PackageRecord } from './repodata.js';

/**
 * Largest upstream repodata a proxy takes unless `cache.maxMetadataSize` says otherwise:
 * conda-forge's linux-64 `repodata.json` is a few hundred megabytes.
 */
export const MAX_REPODATA_BYTES = 1024 * 1024 * 1024;

/** Bytes one record (or other member) of an upstream's repodata may take: conda-forge's are under a few KiB. */
export const MAX_RECORD_BYTES = 1024 * 1024;

/**
 * An upstream subdir's repodata, cached as metadata but never parsed whole: it is read
 * member by member ({@link upstreamMembers}) when served, merged or looked up.
 */
export interface UpstreamRepodata {
  readonly asset: Asset;
  readonly subdir: string;
  readonly cache: CacheStatus;
  /** sha256 of the upstream bytes: the identity of everything derived from them. */
  readonly revision: string;
  readonly modified: Date;
}

/** The record of `filename` as this registry serves it, or `undefined` when it is left out (unsafe or not conda's name, no name). */
export function upstreamRecord(filename: string, value: unknown, subdir: string): PackageRecord | undefined {
  const parsed = tryParseChannelFilename(filename);
  if (!parsed || typeof value !== 'object' || value === null || Array.isArray(value) || (value as { name?: unknown }).name !== parsed.name) return undefined;
  const record = value as PackageRecord;
  return record.subdir === undefined ? { ...record, subdir } : record;
}

/** What one member of an upstream's repodata holds, as this registry reads it. */
export type UpstreamEntry =
  | { readonly kind: 'record'; readonly section: 'packages' | 'packages.conda'; readonly filename: string; readonly raw: Buffer }
  | { readonly kind: 'removed'; readonly filename: string }
  | { readonly kind: 'info'; readonly value: unknown };

/**
 * The upstream repodata's records (unparsed), removals and `info`, streamed from the cached
 * asset: memory is one record and one chunk, whatever the document's size.
 */
export async function* upstreamMembers(loaded: Pick<UpstreamRepodata, 'asset' | 'subdir'>): AsyncGenerator<UpstreamEntry> {
  const source = await loaded.asset.open();
  try {
    for await (const member of jsonObjectMembers(source, { descend: (key) => key === 'packages' || key === 'packages.conda' || key === 'removed', maxMemberBytes: MAX_RECORD_BYTES })) {
      if (member.parent === 'packages' || member.parent === 'packages.conda') yield { kind: 'record', section: member.parent, filename: member.key!, raw: member.raw };
      else if (member.parent === 'removed') {
        const filename = JSON.parse(member.raw.toString('utf8')) as unknown;
        if (typeof filename === 'string' && tryParseChannelFilename(filename)) yield { kind: 'removed', filename };
      } else if (member.key === 'info') yield { kind: 'info', value: JSON.parse(member.raw.toString('utf8')) };
    }
  } catch (error) {
    if (error instanceof SyntaxError) throw new UpstreamError(`the upstream's ${loaded.subdir}/repodata.json is not a valid repodata document (${error.message})`);
    throw error;
  } finally {
    source.destroy();
  }
}

/**
 * The upstream's `<subdir>/repodata.json`, cached as metadata (the repository's TTL,
 * revalidation, stale answers when the upstream fails, coalescing: the kernel's). It is
 * not read here: see {@link upstreamMembers}.
 */
export async function loadUpstreamRepodata(repo: RepositoryServices, upstream: ProxyCache, subdir: string): Promise<UpstreamRepodata | undefined> {
  const result = await upstream.fetch({ path: `${subdir}/repodata.json`, kind: 'metadata', contentType: 'application/json', maxBytes: repo.limits.maxMetadataBytes, headers: { accept: 'application/json' } });
  if (!result.found) return undefined;
  return { asset: result.asset, subdir, cache: result.cache, revision: result.asset.digests.sha256, modified: result.asset.updatedAt };
}

/** Where the upstream keeps the subdir's files: its `info.base_url` (repodata v2), else next to the repodata. */
function filesUrlOf(info: unknown, upstream: ProxyCache, subdir: string): string {
  const subdirUrl = new URL(`${subdir}/`, upstream.upstreamUrl).href;
  const base = typeof info === 'object' && info !== null ? (info as { base_url?: unknown }).base_url : undefined;
  return typeof base === 'string' && base !== '' ? new URL(base.endsWith('/') ? base : `${base}/`, subdirUrl).href : subdirUrl;
}

/**
 * The record of one file in the upstream's repodata and where the file is: a scan of the
 * cached document that stops once it has both (memory: one record), done only when a file
 * is not cached yet.
 */
async function findUpstreamFile(loaded: UpstreamRepodata, upstream: ProxyCache, filename: string): Promise<{ record: PackageRecord | undefined; filesUrl: string }> {
  const section = sectionOf(filename);
  let info: unknown;
  let infoSeen = false;
  let record: PackageRecord | undefined;
  for await (const entry of upstreamMembers(loaded)) {
    if (entry.kind === 'info') {
      info = entry.value;
      infoSeen = true;
    } else if (entry.kind === 'record' && entry.section === section && entry.filename === filename) {
      // The first one when the upstream lists a file twice.
      record ??= upstreamRecord(filename, JSON.parse(entry.raw.toString('utf8')), loaded.subdir);
    }
    if (infoSeen && record) break;
  }
  return { record, filesUrl: filesUrlOf(info, upstream, loaded.subdir) };
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
    const found = loaded ? await findUpstreamFile(loaded, upstream, filename) : undefined;
    const record = found?.record;
    if (!found || !record) throw new NotFoundError(`${subdir}/${filename} is not in the upstream's repodata`);
    const sha256 = typeof record.sha256 === 'string' && /^[0-9a-f]{64}$/i.test(record.sha256) ? record.sha256.toLowerCase() : undefined;
    const md5 = typeof record.md5 === 'string' && /^[0-9a-f]{32}$/i.test(record.md5) ? record.md5.toLowerCase() : undefined;
    if (!sha256 && !md5) throw new UpstreamError(`the upstream announces no digest for ${filename}; refusing to cache unverifiable content`);
    const size = typeof record.size === 'number' && Number.isSafeInteger(record.size) && record.size >= 0 ? record.size : undefined;
    const url = new URL(encodeURIComponent(filename), found.filesUrl).href;
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
