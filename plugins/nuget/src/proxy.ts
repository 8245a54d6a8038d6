import { gunzipSync } from 'node:zlib';
import {
  NotFoundError,
  UpstreamError,
  isRegistryError,
  type Asset,
  type CacheStatus,
  type FormatRequestContext,
  type FormatResponse,
  type ProxyCache,
  type ProxyRepositoryHandle,
  type UpstreamPreparation,
} from '@registry-core/api';
import { validateId } from './ids.js';
import { nupkgPath, nuspecPath } from './hosted.js';
import type { DependencyGroup } from './nupkg.js';
import type { PackageDocument, VersionEntry } from './package-document.js';
import { fullVersion, parseVersion, versionKey } from './versions.js';

/** Largest upstream document parsed (a registration page of nuget.org's biggest packages is a few MB). */
export const MAX_DOCUMENT_BYTES = 32 * 1024 * 1024;
/** Most registration pages read for one package. */
const MAX_PAGES = 500;

/** The upstream's resources, from its service index. */
interface UpstreamResources {
  readonly flat: string;
  readonly registration?: string;
  readonly search?: string;
  readonly autocomplete?: string;
}

/** The service index's URL: the configured one when it names a `.json`, else `v3/index.json` under the feed root. */
function serviceIndexUrl(upstream: ProxyCache): string {
  return /\.json\/$/.test(upstream.upstreamUrl) ? upstream.upstreamUrl.slice(0, -1) : 'v3/index.json';
}

/** A cached upstream JSON document, gunzipped when the upstream stored it gzip-encoded (nuget.org's registrations). */
async function readJson(asset: Asset, maxBytes: number): Promise<unknown> {
  try {
    return await asset.withBytes(maxBytes, (bytes) => {
      const plain = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes, { maxOutputLength: maxBytes }) : bytes;
      return JSON.parse(plain.toString('utf8')) as unknown;
    });
  } catch (error) {
    if (isRegistryError(error) && error.status !== 413) throw error;
    throw new UpstreamError(`an upstream document (${asset.path}) is not usable JSON: ${(error as Error).message}`);
  }
}

async function fetchJson(repo: ProxyRepositoryHandle, path: string, upstreamUrl: string): Promise<{ value: unknown; cache: CacheStatus } | undefined> {
  const upstream = repo.upstream;
  if (/^https?:/.test(upstreamUrl) && !upstream.allows(upstreamUrl)) {
    throw new UpstreamError(`the upstream points at ${new URL(upstreamUrl).origin}, which this proxy may not fetch from: add it to cache.allowedOrigins`);
  }
  const maxBytes = Math.min(repo.limits.maxMetadataBytes, MAX_DOCUMENT_BYTES);
  const result = await upstream.fetch({ path, upstreamUrl, kind: 'metadata', headers: { accept: 'application/json' }, contentType: 'application/json', maxBytes });
  return result.found ? { value: await readJson(result.asset, maxBytes), cache: result.cache } : undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** The first resource of one of `types` the service index lists, with a trailing slash when `folder`. */
function resource(index: Record<string, unknown>, types: readonly string[]): string | undefined {
  const list = Array.isArray(index['resources']) ? index['resources'].filter(isObject) : [];
  for (const type of types) {
    const found = list.find((r) => r['@type'] === type && typeof r['@id'] === 'string' && /^https?:\/\//.test(r['@id'] as string));
    if (found) return found['@id'] as string;
  }
  return undefined;
}

const slash = (url: string | undefined) => (url === undefined || url.endsWith('/') ? url : `${url}/`);

async function resources(repo: ProxyRepositoryHandle): Promise<UpstreamResources> {
  const loaded = await fetchJson(repo, 'upstream/index.json', serviceIndexUrl(repo.upstream));
  if (!loaded || !isObject(loaded.value)) throw new UpstreamError('the upstream has no NuGet v3 service index');
  const flat = slash(resource(loaded.value, ['PackageBaseAddress/3.0.0']));
  if (!flat) throw new UpstreamError('the upstream\'s service index lists no PackageBaseAddress/3.0.0');
  const registration = slash(resource(loaded.value, ['RegistrationsBaseUrl/3.6.0', 'RegistrationsBaseUrl/3.4.0', 'RegistrationsBaseUrl/3.0.0-rc', 'RegistrationsBaseUrl']));
  const search = resource(loaded.value, ['SearchQueryService/3.5.0', 'SearchQueryService/3.0.0-rc', 'SearchQueryService']);
  const autocomplete = resource(loaded.value, ['SearchAutocompleteService/3.5.0', 'SearchAutocompleteService']);
  return { flat, ...(registration ? { registration } : {}), ...(search ? { search } : {}), ...(autocomplete ? { autocomplete } : {}) };
}

/** The upstream's flat-container version list for `lid`, as a document of bare entries. */
export async function upstreamVersions(repo: ProxyRepositoryHandle, lid: string): Promise<{ value: PackageDocument; cache: CacheStatus } | undefined> {
  const { flat } = await resources(repo);
  const loaded = await fetchJson(repo, `upstream/flat/${lid}/index.json`, `${flat}${lid}/index.json`);
  if (!loaded) return undefined;
  const listed = isObject(loaded.value) && Array.isArray(loaded.value['versions']) ? loaded.value['versions'] : [];
  const versions: Record<string, VersionEntry> = {};
  for (const text of listed) {
    // A version that does not parse is left out, never stored under a made-up key.
    const parsed = typeof text === 'string' ? parseVersion(text) : undefined;
    if (parsed) versions[versionKey(parsed)] = { version: fullVersion(parsed), listed: true };
  }
  return { value: { id: lid, versions }, cache: loaded.cache };
}

function dependencyGroups(value: unknown): DependencyGroup[] {
  if (!Array.isArray(value)) return [];
  return value.filter(isObject).map((g) => ({
    ...(str(g['targetFramework']) ? { targetFramework: str(g['targetFramework'])! } : {}),
    dependencies: (Array.isArray(g['dependencies']) ? g['dependencies'] : [])
      .filter(isObject)
      .flatMap((d) => {
        try {
          return [{ id: validateId(str(d['id'])), range: str(d['range']) ?? '' }];
        } catch {
          return [];
        }
      }),
  }));
}

/** A leaf's catalog entry as a version entry (every URL in it dropped: this registry makes its own). */
function entryOf(catalog: Record<string, unknown>): [string, VersionEntry, string] | undefined {
  const parsed = parseVersion(str(catalog['version']) ?? '');
  const id = str(catalog['id']);
  if (!parsed || !id) return undefined;
  const text = (name: string) => (str(catalog[name]) ? { [name]: str(catalog[name])! } : {});
  const tags = Array.isArray(catalog['tags']) ? catalog['tags'].filter((t) => typeof t === 'string').join(' ') : str(catalog['tags']);
  const hash = str(catalog['packageHash']);
  return [
    versionKey(parsed),
    {
      version: fullVersion(parsed),
      listed: catalog['listed'] !== false,
      ...text('published'),
      ...text('description'),
      ...(typeof catalog['authors'] === 'string' ? { authors: catalog['authors'] } : Array.isArray(catalog['authors']) ? { authors: catalog['authors'].join(', ') } : {}),
      ...text('title'),
      ...text('summary'),
      ...(tags ? { tags } : {}),
      ...text('projectUrl'),
      ...text('licenseUrl'),
      ...text('iconUrl'),
      requireLicenseAcceptance: catalog['requireLicenseAcceptance'] === true,
      dependencyGroups: dependencyGroups(catalog['dependencyGroups']),
      ...(isObject(catalog['deprecation']) ? { deprecation: catalog['deprecation'] } : {}),
      ...(Array.isArray(catalog['vulnerabilities']) ? { vulnerabilities: catalog['vulnerabilities'] } : {}),
      ...(typeof catalog['packageSize'] === 'number' ? { packageSize: catalog['packageSize'] } : {}),
      ...(hash && /^[A-Za-z0-9+/]{86}==$/.test(hash) && (catalog['packageHashAlgorithm'] ?? 'SHA512') === 'SHA512' ? { packageHash: hash } : {}),
    },
    id,
  ];
}

/**
 * The upstream's registration for `lid`, pages it links fetched too (each cached as metadata),
 * as a document: every URL is this registry's again when rendered.
 */
export async function upstreamRegistration(repo: ProxyRepositoryHandle, lid: string): Promise<{ value: PackageDocument; cache: CacheStatus } | undefined> {
  const { registration } = await resources(repo);
  if (!registration) return upstreamVersions(repo, lid);
  const index = await fetchJson(repo, `upstream/registration/${lid}/index.json`, `${registration}${lid}/index.json`);
  if (!index) return undefined;
  let cache = index.cache;
  const pages = isObject(index.value) && Array.isArray(index.value['items']) ? index.value['items'].filter(isObject) : [];
  if (pages.length > MAX_PAGES) throw new UpstreamError(`the upstream's registration of ${lid} has more than ${MAX_PAGES} pages`);
  const versions: Record<string, VersionEntry> = {};
  let id: string | undefined;
  for (const p of pages) {
    let items = p['items'];
    if (!Array.isArray(items)) {
      const lower = parseVersion(str(p['lower']) ?? '');
      const upper = parseVersion(str(p['upper']) ?? '');
      const at = str(p['@id']);
      if (!lower || !upper || !at) throw new UpstreamError(`the upstream's registration of ${lid} links a page without bounds`);
      const page = await fetchJson(repo, `upstream/registration/${lid}/page/${versionKey(lower)}/${versionKey(upper)}.json`, at);
      if (!page) throw new UpstreamError(`the upstream's registration page ${at} is missing`);
      if (page.cache !== 'HIT') cache = page.cache === 'STALE' || cache === 'STALE' ? 'STALE' : 'MISS';
      items = isObject(page.value) ? page.value['items'] : undefined;
    }
    for (const leaf of Array.isArray(items) ? items.filter(isObject) : []) {
      const entry = isObject(leaf['catalogEntry']) ? entryOf(leaf['catalogEntry']) : undefined;
      if (!entry || entry[2].toLowerCase() !== lid) continue;
      versions[entry[0]] ??= entry[1];
      id ??= entry[2];
    }
  }
  return { value: { id: id ?? lid, versions }, cache };
}

/**
 * A .nupkg or .nuspec from the upstream's flat container, cached as immutable content. Only
 * versions the upstream lists are asked for; a .nupkg is checked against the SHA-512 the
 * upstream's registration publishes, when it publishes one.
 */
export async function proxyFile(ctx: FormatRequestContext, repo: ProxyRepositoryHandle, lid: string, key: string, file: 'nupkg' | 'nuspec'): Promise<FormatResponse> {
  const prepare = async (): Promise<UpstreamPreparation | undefined> => {
    const { flat } = await resources(repo);
    const listed = await upstreamVersions(repo, lid);
    if (!listed?.value.versions[key]) return undefined;
    const upstreamUrl = file === 'nupkg' ? `${flat}${lid}/${key}/${lid}.${key}.nupkg` : `${flat}${lid}/${key}/${lid}.nuspec`;
    if (file === 'nuspec') return { upstreamUrl };
    const registration = await upstreamRegistration(repo, lid).catch((error: unknown) => {
      ctx.logger.debug('no registration to check a package against', { package: lid, error: (error as Error).message });
      return undefined;
    });
    const hash = registration?.value.versions[key]?.packageHash;
    return { upstreamUrl, ...(hash ? { expect: { sha512: Buffer.from(hash, 'base64').toString('hex') } } : {}) };
  };
  const result = await repo.upstream.serve({
    path: file === 'nupkg' ? nupkgPath(lid, key) : nuspecPath(lid, key),
    kind: 'content',
    contentType: file === 'nupkg' ? 'application/octet-stream' : 'application/xml',
    maxBytes: file === 'nupkg' ? repo.limits.maxUploadBytes * 4 : 1024 * 1024,
    prepare,
  });
  if (!result.found) throw new NotFoundError(`${lid} ${key} is not upstream`);
  return { body: result.body, cache: result.cache };
}

/** A search (`query` or `autocomplete`) asked of the upstream as is; its JSON answer, or `undefined` when it has no such service. */
export async function upstreamSearch(repo: ProxyRepositoryHandle, service: 'search' | 'autocomplete', query: URLSearchParams): Promise<unknown> {
  const found = (await resources(repo))[service];
  if (!found) return undefined;
  if (!repo.upstream.allows(found)) throw new UpstreamError(`the upstream's search is at ${new URL(found).origin}, which this proxy may not fetch from: add it to cache.allowedOrigins`);
  const url = new URL(found);
  for (const [k, v] of query) url.searchParams.append(k, v);
  const answer = await repo.upstream.passthrough({ method: 'GET', upstreamUrl: url.href, headers: { accept: 'application/json' }, maxBytes: 16 * 1024 * 1024 });
  if (answer.status !== 200) throw new UpstreamError(`the upstream's ${service} answered ${answer.status}`);
  try {
    return JSON.parse(answer.body.toString('utf8')) as unknown;
  } catch {
    throw new UpstreamError(`the upstream's ${service} answer is not JSON`);
  }
}
