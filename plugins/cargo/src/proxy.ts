import { NotFoundError, UpstreamError, isRegistryError, type Asset, type CacheStatus, type FormatResponse, type ProxyRepositoryHandle, type UpstreamPreparation } from '@registry-core/api';
import { parseIndexFile, type IndexLine } from './index-lines.js';
import { cratePath } from './hosted.js';
import { indexPath } from './names.js';

/**
 * Largest upstream index file a proxy takes unless `cache.maxMetadataSize` says otherwise:
 * crates.io's largest (crates with thousands of versions and many features) are a few MiB.
 */
export const MAX_INDEX_BYTES = 32 * 1024 * 1024;

/** An upstream's index file for one crate, as parsed and checked, with its cache status. */
export interface UpstreamIndex {
  readonly lines: readonly IndexLine[];
  readonly cache: CacheStatus;
  readonly asset: Asset;
}

/** The upstream's index file of `lowerName`, cached as metadata with the repository's TTL. */
export async function loadUpstreamIndex(repo: ProxyRepositoryHandle, lowerName: string): Promise<UpstreamIndex | undefined> {
  const path = indexPath(lowerName);
  const maxBytes = repo.limits.maxMetadataBytes;
  const result = await repo.upstream.fetch({ path: `index/${path}`, upstreamUrl: path, kind: 'metadata', contentType: 'text/plain; charset=utf-8', maxBytes });
  if (!result.found) return undefined;
  const key = `index-lines:${result.asset.digests.sha256}`;
  let lines = repo.derived.get<IndexLine[]>(key);
  if (!lines) {
    try {
      lines = await result.asset.withBytes(maxBytes, (bytes) => parseIndexFile(bytes.toString('utf8'), lowerName));
    } catch (error) {
      if (isRegistryError(error) && error.status === 413) throw new UpstreamError(error.message);
      throw error;
    }
    repo.derived.set(key, lines, result.asset.size * 3);
  }
  if (lines.length === 0) return undefined;
  return { lines, cache: result.cache, asset: result.asset };
}

/** The upstream's `dl` template, from its config.json (cached as metadata). */
async function upstreamDownloadTemplate(repo: ProxyRepositoryHandle): Promise<string> {
  const result = await repo.upstream.fetch({ path: 'config.json', upstreamUrl: 'config.json', kind: 'metadata', contentType: 'application/json', maxBytes: 64 * 1024 });
  if (!result.found) throw new UpstreamError(`${repo.upstream.upstreamUrl} has no config.json: is it a sparse registry index?`);
  let config: unknown;
  try {
    config = await result.asset.readJson(64 * 1024);
  } catch {
    throw new UpstreamError(`the config.json of ${repo.upstream.upstreamUrl} is not valid JSON`);
  }
  const dl = (config as { dl?: unknown } | null)?.dl;
  if (typeof dl !== 'string' || !/^https?:\/\//i.test(dl)) throw new UpstreamError(`the config.json of ${repo.upstream.upstreamUrl} has no http(s) "dl" URL`);
  return dl;
}

/** Cargo's prefix folders of a name: `1`, `2`, `3/a`, `ab/cd`. */
function prefixOf(name: string): string {
  if (name.length <= 2) return String(name.length);
  if (name.length === 3) return `3/${name[0]}`;
  return `${name.slice(0, 2)}/${name.slice(2, 4)}`;
}

/** The download URL of a version by a `dl` template (markers, or `/{crate}/{version}/download` appended). */
export function expandDownloadUrl(template: string, line: IndexLine): string {
  const markers = /\{(crate|version|prefix|lowerprefix|sha256-checksum)\}/;
  if (!markers.test(template)) return `${template.replace(/\/+$/, '')}/${encodeURIComponent(line.name)}/${encodeURIComponent(line.vers)}/download`;
  return template
    .replaceAll('{crate}', encodeURIComponent(line.name))
    .replaceAll('{version}', encodeURIComponent(line.vers))
    .replaceAll('{prefix}', prefixOf(line.name))
    .replaceAll('{lowerprefix}', prefixOf(line.name.toLowerCase()))
    .replaceAll('{sha256-checksum}', line.cksum);
}

/**
 * A .crate on a proxy: on a miss the upstream's index line says where it is (its `dl`
 * template) and what it must hash to (`cksum`); it is verified before it is cached.
 */
export async function proxyDownload(repo: ProxyRepositoryHandle, crate: string, vers: string): Promise<FormatResponse> {
  const lower = crate.toLowerCase();
  const prepare = async (): Promise<UpstreamPreparation | undefined> => {
    const index = await loadUpstreamIndex(repo, lower);
    const line = index?.lines.find((l) => l.vers === vers);
    if (!line) return undefined;
    const url = expandDownloadUrl(await upstreamDownloadTemplate(repo), line);
    if (!repo.upstream.allows(url)) throw new UpstreamError(`${crate} ${vers} is downloaded from ${new URL(url).origin}, which this proxy may not fetch from: add it to cache.allowedOrigins`);
    return { upstreamUrl: url, expect: { sha256: line.cksum } };
  };
  const result = await repo.upstream.serve({ path: cratePath(lower, vers), kind: 'content', contentType: 'application/x-tar', maxBytes: repo.limits.maxUploadBytes * 4, prepare });
  if (!result.found) throw new NotFoundError(`${crate} ${vers} is not upstream`);
  return { body: result.body, cache: result.cache };
}
