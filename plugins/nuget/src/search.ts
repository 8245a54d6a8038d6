import type { FormatRequestContext, ProxyRepositoryHandle, RepositoryHandle } from '@registry-core/api';
import { loadHosted } from './hosted.js';
import { validateId } from './ids.js';
import { sortedKeys, urls, visible, type PackageDocument } from './package-document.js';
import { upstreamSearch } from './proxy.js';
import { compareVersionText, fullVersion, parseVersion } from './versions.js';

/** One package of a search answer, without URLs (they are the serving repository's, added when rendered). */
export interface SearchHit {
  readonly id: string;
  readonly version: string;
  readonly description: string;
  readonly summary: string;
  readonly title: string;
  readonly iconUrl: string;
  readonly licenseUrl: string;
  readonly projectUrl: string;
  readonly tags: readonly string[];
  readonly authors: readonly string[];
  readonly totalDownloads: number;
  readonly versions: readonly { readonly version: string; readonly downloads: number }[];
}

export interface SearchResult {
  readonly totalHits: number;
  readonly data: readonly SearchHit[];
}

/** What a search asks: NuGet's `q`, `skip`, `take`, `prerelease`, `semVerLevel` (v2's names mapped by the caller). */
export interface SearchQuery {
  readonly q: string;
  readonly skip: number;
  readonly take: number;
  readonly prerelease: boolean;
  readonly semVer2: boolean;
}

export function searchQuery(query: URLSearchParams, maxTake: number): SearchQuery {
  const number = (name: string, fallback: number) => {
    const n = Number(query.get(name) ?? fallback);
    return Number.isFinite(n) && n >= 0 ? Math.floor(n) : fallback;
  };
  return {
    q: (query.get('q') ?? '').trim(),
    skip: number('skip', 0),
    take: Math.min(number('take', 20), maxTake),
    prerelease: query.get('prerelease') === 'true',
    semVer2: /^2\./.test(query.get('semVerLevel') ?? ''),
  };
}

/** A hosted package as a search hit, `undefined` when no version of it is visible to the query. */
export function hitOf(doc: PackageDocument, query: Pick<SearchQuery, 'prerelease' | 'semVer2'>): SearchHit | undefined {
  const keys = sortedKeys(doc).filter((k) => visible(doc.versions[k]!, query));
  if (keys.length === 0) return undefined;
  const latest = doc.versions[keys[keys.length - 1]!]!;
  return {
    id: doc.id,
    version: latest.version,
    description: latest.description ?? '',
    summary: latest.summary ?? '',
    title: latest.title ?? doc.id,
    iconUrl: latest.iconUrl ?? '',
    licenseUrl: latest.licenseUrl ?? '',
    projectUrl: latest.projectUrl ?? '',
    tags: (latest.tags ?? '').split(/[\s,]+/).filter(Boolean),
    authors: (latest.authors ?? '').split(',').map((a) => a.trim()).filter(Boolean),
    totalDownloads: 0,
    versions: keys.map((k) => ({ version: doc.versions[k]!.version, downloads: 0 })),
  };
}

/**
 * The hosted packages whose names (or descriptions, tags) match, that the caller may read, a
 * page of distinct ids at a time (the kernel's component index pages by name). Ids with no
 * version the query may see are left out of the page and of the total.
 */
export async function hostedSearch(ctx: FormatRequestContext, repo: RepositoryHandle, query: SearchQuery): Promise<SearchResult> {
  const found = await repo.components.search({ text: query.q, offset: query.skip, limit: query.take });
  const hits: SearchHit[] = [];
  for (const { name } of found.items) {
    const stored = ctx.allowed('read', name) ? await loadHosted(repo, name) : undefined;
    const hit = stored && hitOf(stored.value, query);
    if (hit) hits.push(hit);
  }
  return { totalHits: found.total - (found.items.length - hits.length), data: hits };
}

const str = (v: unknown) => (typeof v === 'string' ? v : '');
const strings = (v: unknown) => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : typeof v === 'string' ? [v] : []);

/** An upstream's search answer, checked: hits with invalid ids or versions are left out, URLs dropped. */
export function upstreamHits(answer: unknown): SearchResult {
  const body = (typeof answer === 'object' && answer !== null ? answer : {}) as Record<string, unknown>;
  const hits: SearchHit[] = [];
  for (const raw of Array.isArray(body['data']) ? body['data'] : []) {
    if (typeof raw !== 'object' || raw === null) continue;
    const d = raw as Record<string, unknown>;
    const version = parseVersion(str(d['version']));
    let id: string;
    try {
      id = validateId(str(d['id']));
    } catch {
      continue;
    }
    if (!version) continue;
    const versions = (Array.isArray(d['versions']) ? d['versions'] : []).flatMap((v) => {
      const parsed = parseVersion(str((v as Record<string, unknown> | null)?.['version']));
      return parsed ? [{ version: fullVersion(parsed), downloads: Number((v as Record<string, unknown>)['downloads']) || 0 }] : [];
    });
    hits.push({
      id,
      version: fullVersion(version),
      description: str(d['description']),
      summary: str(d['summary']),
      title: str(d['title']),
      iconUrl: str(d['iconUrl']),
      licenseUrl: str(d['licenseUrl']),
      projectUrl: str(d['projectUrl']),
      tags: strings(d['tags']),
      authors: strings(d['authors']),
      totalDownloads: Number(d['totalDownloads']) || 0,
      versions,
    });
  }
  return { totalHits: Number(body['totalHits']) || hits.length, data: hits };
}

/** A search on a proxy: the upstream's answer, less what the caller may not read. */
export async function proxySearch(ctx: FormatRequestContext, repo: ProxyRepositoryHandle, query: SearchQuery): Promise<SearchResult | undefined> {
  const params = new URLSearchParams({ q: query.q, skip: `${query.skip}`, take: `${query.take}`, prerelease: `${query.prerelease}`, ...(query.semVer2 ? { semVerLevel: '2.0.0' } : {}) });
  const answer = await upstreamSearch(repo, 'search', params);
  if (answer === undefined) return undefined;
  const result = upstreamHits(answer);
  return { totalHits: result.totalHits, data: result.data.filter((hit) => ctx.allowed('read', hit.id.toLowerCase())) };
}

/** Members' results in member order: one hit per id (the first member's), totals added less the duplicates. */
export function mergeResults(results: readonly SearchResult[]): SearchResult {
  const seen = new Set<string>();
  const data: SearchHit[] = [];
  let dropped = 0;
  for (const result of results) {
    for (const hit of result.data) {
      if (seen.has(hit.id.toLowerCase())) {
        dropped++;
        continue;
      }
      seen.add(hit.id.toLowerCase());
      data.push(hit);
    }
  }
  return { totalHits: results.reduce((n, r) => n + r.totalHits, 0) - dropped, data: data.sort((a, b) => (a.id.toLowerCase() < b.id.toLowerCase() ? -1 : 1)) };
}

/** The v3 search answer, URLs under `baseUrl`. */
export function renderSearch(baseUrl: string, result: SearchResult): Record<string, unknown> {
  const u = urls(baseUrl);
  return {
    totalHits: result.totalHits,
    data: result.data.map((hit) => {
      const lid = hit.id.toLowerCase();
      return {
        '@id': u.registrationIndex(lid),
        '@type': 'Package',
        registration: u.registrationIndex(lid),
        ...hit,
        packageTypes: [{ name: 'Dependency' }],
        verified: false,
        versions: hit.versions.map((v) => {
          const parsed = parseVersion(v.version);
          return { ...v, '@id': u.leaf(lid, parsed ? fullVersion(parsed).replace(/\+.*$/, '').toLowerCase() : v.version) };
        }),
      };
    }),
  };
}

/** Versions sorted in NuGet order, for autocomplete's `id=` answers. */
export const sortVersions = (versions: Iterable<string>) => [...new Set(versions)].sort(compareVersionText);
