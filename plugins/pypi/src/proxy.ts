import {
  NotFoundError,
  UpstreamError,
  type CacheStatus,
  type DerivedCache,
  type ExpectedDigests,
  type FormatRequestContext,
  type FormatResponse,
  type ProxyCache,
  type UpstreamPreparation,
  isRegistryError,
} from '@registry-core/api';
import { fileUrl } from './hosted.js';
import { JSON_V1, parseProjectHtml, parseProjectJson, type DistFile, type ProjectPage } from './simple-index.js';

/**
 * Largest upstream project page a proxy takes unless `cache.maxMetadataSize` says
 * otherwise: the largest real ones (projects with tens of thousands of files) are a few
 * megabytes.
 */
export const MAX_PAGE_BYTES = 64 * 1024 * 1024;
/** Asset path of a cached upstream project page; `simple/` keeps it apart from files. */
const pagePath = (normalized: string) => `simple/${normalized}/`;

/** The upstream's page as fetched (file URLs still the upstream's), with its cache status. */
export interface UpstreamPage {
  readonly page: ProjectPage;
  readonly cache: CacheStatus;
  /** The sha256 of the cached upstream bytes the page was parsed from. */
  readonly sha256: string;
}

/**
 * The upstream's project page (JSON preferred, HTML understood), cached as metadata with
 * the repository's TTL, revalidated, stale when the upstream is down. `maxBytes`: the
 * repository's `limits.maxMetadataBytes`. With `derived` (the repository's), the parsed
 * page is kept under the cached bytes' sha256 (shared: never mutate it), so a hot page is
 * not parsed per request.
 */
export async function loadUpstreamPage(upstream: ProxyCache, normalized: string, maxBytes: number, derived?: DerivedCache): Promise<UpstreamPage | undefined> {
  const result = await upstream.fetch({
    path: pagePath(normalized),
    upstreamUrl: `${encodeURIComponent(normalized)}/`,
    kind: 'metadata',
    headers: { accept: `${JSON_V1}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1` },
    contentType: 'text/html',
    maxBytes,
  });
  if (!result.found) return undefined;
  const sha256 = result.asset.digests.sha256;
  const key = `pypi:parsed\u0000${sha256}\u0000${normalized}`;
  const kept = derived?.get<ProjectPage>(key);
  if (kept) return { page: kept, cache: result.cache, sha256 };
  const pageUrl = new URL(`${encodeURIComponent(normalized)}/`, upstream.upstreamUrl).href;
  const notJson = () => new UpstreamError(`the upstream's page for ${normalized} is not valid JSON`);
  let page: ProjectPage;
  try {
    if (/json/i.test(result.asset.contentType)) {
      // Parsed under the host's metadata memory, without holding the event loop.
      page = parseProjectJson(await result.asset.readJson(maxBytes).catch((error: unknown) => Promise.reject(isRegistryError(error) ? error : notJson())), pageUrl, normalized);
    } else {
      page = await result.asset.withBytes(maxBytes, (bytes) => {
        const text = bytes.toString('utf8');
        if (!text.trimStart().startsWith('{')) return parseProjectHtml(text, pageUrl, normalized);
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          throw notJson();
        }
        return parseProjectJson(parsed, pageUrl, normalized);
      });
    }
  } catch (error) {
    // A cached copy over a limit lowered since is the upstream's page too large: a 502.
    if (isRegistryError(error) && error.status === 413) throw new UpstreamError(error.message);
    throw error;
  }
  // A parsed page costs about twice its text; one kept per project (a newer copy replaces it).
  derived?.set(key, page, result.asset.size * 2, `pypi:parsed\u0000${normalized}`);
  return { page, cache: result.cache, sha256 };
}

/** The upstream's page as this repository serves it: file URLs under `baseUrl`. */
export function rewritePage(page: ProjectPage, normalized: string, baseUrl: string): ProjectPage {
  const seen = new Set<string>();
  const files: DistFile[] = [];
  for (const file of page.files) {
    // A filename the page lists twice, or one unsafe as a path segment, is left out.
    if (seen.has(file.filename) || !safeFilename(file.filename)) continue;
    seen.add(file.filename);
    files.push({ ...file, url: fileUrl(baseUrl, normalized, file.filename) });
  }
  return { ...page, files };
}

function safeFilename(filename: string): boolean {
  return filename.length > 0 && filename.length <= 255 && !/[/\\\0-\x1f\x7f]/.test(filename) && filename !== '.' && filename !== '..' && !filename.startsWith('.');
}

function expectedOf(hashes: Readonly<Record<string, string>>): ExpectedDigests | undefined {
  const expect: { sha256?: string; sha512?: string; sha1?: string; md5?: string } = {};
  if (hashes['sha256']) expect.sha256 = hashes['sha256'];
  if (hashes['sha512']) expect.sha512 = hashes['sha512'];
  if (hashes['sha1']) expect.sha1 = hashes['sha1'];
  if (hashes['md5']) expect.md5 = hashes['md5'];
  return Object.keys(expect).length > 0 ? expect : undefined;
}

/**
 * `GET /packages/<project>/<file>[.metadata]` on a proxy: the upstream page says where the
 * file is and what it must hash to (read only on a miss); a file the upstream announces no
 * digest for is refused rather than cached unverified.
 */
export async function getProxyFile(ctx: FormatRequestContext, upstream: ProxyCache, normalized: string, filename: string, metadata: boolean): Promise<FormatResponse> {
  const repo = ctx.repository;
  const path = `packages/${normalized}/${filename}${metadata ? '.metadata' : ''}`;
  const prepare = async (): Promise<UpstreamPreparation> => {
    const loaded = await loadUpstreamPage(upstream, normalized, repo.limits.maxMetadataBytes);
    const file = loaded?.page.files.find((f) => f.filename === filename);
    if (!file) throw new NotFoundError(`${filename} is not a file the upstream lists for ${normalized}`);
    if (metadata) {
      if (!file.coreMetadata) throw new NotFoundError(`the upstream has no metadata file for ${filename}`);
      const expect = file.coreMetadata === true ? undefined : expectedOf(file.coreMetadata);
      return { upstreamUrl: `${file.url}.metadata`, ...(expect ? { expect } : {}) };
    }
    const expect = expectedOf(file.hashes);
    if (!expect) throw new UpstreamError(`the upstream announces no digest for ${filename}; refusing to cache unverifiable content`);
    if (!upstream.allows(file.url)) {
      throw new UpstreamError(`${filename} is hosted at ${new URL(file.url).origin}, which this proxy may not fetch from: add it to cache.allowedOrigins`);
    }
    return { upstreamUrl: file.url, expect };
  };
  const result = await upstream.serve({
    path,
    kind: 'content',
    contentType: metadata ? 'text/plain; charset=utf-8' : 'application/octet-stream',
    maxBytes: metadata ? 16 * 1024 * 1024 : repo.limits.maxUploadBytes * 4,
    prepare,
  });
  if (!result.found) throw new NotFoundError(`${filename}${metadata ? '.metadata' : ''} is not upstream`);
  return { body: result.body, cache: result.cache };
}
