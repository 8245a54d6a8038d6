import { BadRequestError, NotFoundError, escapeXml, type FormatRequestContext, type FormatResponse, loadDocument, type LoadedDocument, type MergeableDocument, type RouteDefinition } from '@registry-core/api';
import { lowerId } from './ids.js';
import { sortedKeys, urls, type PackageDocument, type VersionEntry } from './package-document.js';
import { packageDocument, packageFile, param, searchDocument } from './reads.js';
import type { SearchHit, SearchResult } from './search.js';
import { compareVersionText, isPrerelease, keyOf, parseVersion } from './versions.js';

// The NuGet v2 OData (Atom) feed at `<repository>/api/v2/` that nuget.exe 2.x reads: the
// service document, `$metadata`, `Packages(Id=,Version=)`, `FindPackagesById()`, `Search()`
// (with `$skip`/`$top` paging and `$count`) and `package/{id}/{version}` downloads.

const ATOM = 'http://www.w3.org/2005/Atom';
const D = 'http://schemas.microsoft.com/ado/2007/08/dataservices';
const M = 'http://schemas.microsoft.com/ado/2007/08/dataservices/metadata';
const HEADERS = { 'dataserviceversion': '2.0;' };
const FEED_TYPE = 'application/atom+xml;type=feed;charset=utf-8';

/** A `'quoted'` OData string literal, `''` an escaped quote. */
function literal(value: string | null): string | undefined {
  if (value === null) return undefined;
  const m = /^'((?:[^']|'')*)'$/.exec(value.trim());
  return m ? m[1]!.replace(/''/g, "'") : undefined;
}

/** What a `/api/v2/...` path asks for. */
type V2Request =
  | { kind: 'service' }
  | { kind: 'metadata' }
  | { kind: 'entry'; lid: string; key: string }
  | { kind: 'versions'; lid: string }
  | { kind: 'search'; count: boolean };

function parseRequest(ctx: FormatRequestContext): V2Request {
  const rest = ((ctx.params['rest'] as readonly string[] | undefined) ?? []).join('/');
  if (rest === '') return { kind: 'service' };
  if (rest === '$metadata') return { kind: 'metadata' };
  const entry = /^Packages\(Id='((?:[^']|'')*)',Version='((?:[^']|'')*)'\)$/.exec(rest);
  if (entry) return { kind: 'entry', lid: lowerId(entry[1]!.replace(/''/g, "'")), key: keyOf(entry[2]!.replace(/''/g, "'")) };
  if (rest === 'FindPackagesById()') {
    const id = literal(ctx.query.get('id'));
    if (id === undefined) throw new NotFoundError('FindPackagesById() needs an id=\'...\'');
    return { kind: 'versions', lid: lowerId(id) };
  }
  if (rest === 'Search()' || rest === 'Search()/$count' || rest === 'Packages()' || rest === 'Packages' || rest === 'Packages()/$count') {
    return { kind: 'search', count: rest.endsWith('$count') };
  }
  throw new NotFoundError(`${rest.slice(0, 100)} is not part of the v2 feed`);
}

/** The `$filter`, `$orderby`, `$skip` and `$top` NuGet 2.x sends, over entries as (id, version, flags). */
interface Row {
  readonly id: string;
  readonly key: string;
  readonly xml: () => string;
  readonly stable: boolean;
  readonly absolute: boolean;
}

function applyOptions(ctx: FormatRequestContext, rows: Row[], name: string): FormatResponse {
  const filter = (ctx.query.get('$filter') ?? '').trim();
  const orderby = (ctx.query.get('$orderby') ?? '').trim();
  // Only the filters nuget.exe 2.x sends; any other would be answered wrongly by ignoring it.
  if (filter !== '' && filter !== 'IsLatestVersion' && filter !== 'IsAbsoluteLatestVersion') throw new BadRequestError(`$filter=${filter.slice(0, 100)} is not supported: use FindPackagesById() or Search()`);
  let kept = filter === 'IsLatestVersion' ? rows.filter((r) => r.stable) : filter === 'IsAbsoluteLatestVersion' ? rows.filter((r) => r.absolute) : rows;
  const byVersion = (a: Row, b: Row) => compareVersionText(a.key, b.key);
  const byId = (a: Row, b: Row) => (a.id.toLowerCase() < b.id.toLowerCase() ? -1 : a.id.toLowerCase() > b.id.toLowerCase() ? 1 : 0);
  if (/^Version desc$/i.test(orderby)) kept = [...kept].sort((a, b) => byVersion(b, a));
  else if (/^Version( asc)?$/i.test(orderby)) kept = [...kept].sort(byVersion);
  else if (/^Id( asc)?(,|$)/i.test(orderby)) kept = [...kept].sort((a, b) => byId(a, b) || byVersion(a, b));
  else if (/^Id desc/i.test(orderby)) kept = [...kept].sort((a, b) => byId(b, a) || byVersion(b, a));
  const number = (param: string, fallback: number) => {
    const n = Number(ctx.query.get(param) ?? fallback);
    return Number.isFinite(n) && n >= 0 ? Math.floor(n) : fallback;
  };
  const rest = ((ctx.params['rest'] as readonly string[] | undefined) ?? []).join('/');
  if (rest.endsWith('/$count')) return { headers: HEADERS, body: { kind: 'text', value: `${kept.length}`, contentType: 'text/plain;charset=utf-8' }, cachePolicy: 'no-store' };
  const skip = number('$skip', 0);
  const top = Math.min(number('$top', 100), 100);
  const page = kept.slice(skip, skip + top);
  let next: string | undefined;
  if (skip + page.length < kept.length) {
    const params = new URLSearchParams(ctx.query);
    params.set('$skip', `${skip + page.length}`);
    next = `${urls(ctx.baseUrl).v2}${rest}?${params.toString()}`;
  }
  return feedXml(ctx.baseUrl, name, page.map((r) => r.xml()), next);
}

const date = (iso: string | undefined) => (iso ?? '1900-01-01T00:00:00Z').replace(/Z$/, '');

/** One package version as an Atom entry. */
function entryXml(baseUrl: string, id: string, e: VersionEntry, latest: { stable: boolean; absolute: boolean }): string {
  const u = urls(baseUrl);
  const parsed = parseVersion(e.version)!;
  const version = e.version.replace(/\+.*$/, '');
  const self = `${u.v2}Packages(Id='${encodeURIComponent(id)}',Version='${encodeURIComponent(version)}')`;
  const prop = (name: string, value: string | undefined, type?: string) =>
    value === undefined || value === '' ? `<d:${name}${type ? ` m:type="${type}"` : ''} m:null="true"/>` : `<d:${name}${type ? ` m:type="${type}"` : ''}>${escapeXml(value)}</d:${name}>`;
  const dependencies = (e.dependencyGroups ?? []).flatMap((g) => (g.dependencies.length ? g.dependencies.map((d) => `${d.id}:${d.range}:${g.targetFramework ?? ''}`) : g.targetFramework ? [`::${g.targetFramework}`] : [])).join('|');
  return `<entry><id>${escapeXml(self)}</id><category term="NuGetGallery.V2FeedPackage" scheme="${M.replace('/metadata', '/scheme')}"/><link rel="edit" title="V2FeedPackage" href="${escapeXml(self)}"/><title type="text">${escapeXml(id)}</title><summary type="text">${escapeXml(e.summary ?? '')}</summary><updated>${escapeXml(e.published ?? '1900-01-01T00:00:00Z')}</updated><author><name>${escapeXml(e.authors ?? '')}</name></author><content type="application/zip" src="${escapeXml(`${u.v2}package/${id}/${version}`)}"/><m:properties>${[
    prop('Id', id),
    prop('Version', version),
    prop('NormalizedVersion', version),
    prop('Authors', e.authors),
    prop('Copyright', undefined),
    prop('Created', date(e.published), 'Edm.DateTime'),
    prop('Dependencies', dependencies || ''),
    prop('Description', e.description),
    prop('DownloadCount', '0', 'Edm.Int32'),
    prop('IconUrl', e.iconUrl),
    prop('IsLatestVersion', `${latest.stable}`, 'Edm.Boolean'),
    prop('IsAbsoluteLatestVersion', `${latest.absolute}`, 'Edm.Boolean'),
    prop('IsPrerelease', `${isPrerelease(parsed)}`, 'Edm.Boolean'),
    prop('LastUpdated', date(e.published), 'Edm.DateTime'),
    prop('Listed', `${e.listed}`, 'Edm.Boolean'),
    prop('LicenseUrl', e.licenseUrl),
    prop('PackageHash', e.packageHash),
    prop('PackageHashAlgorithm', e.packageHash ? 'SHA512' : undefined),
    prop('PackageSize', e.packageSize !== undefined ? `${e.packageSize}` : undefined, 'Edm.Int64'),
    prop('ProjectUrl', e.projectUrl),
    prop('Published', e.listed ? date(e.published) : '1900-01-01T00:00:00', 'Edm.DateTime'),
    prop('ReleaseNotes', undefined),
    prop('RequireLicenseAcceptance', `${e.requireLicenseAcceptance ?? false}`, 'Edm.Boolean'),
    prop('Summary', e.summary),
    prop('Tags', e.tags),
    prop('Title', e.title),
    prop('VersionDownloadCount', '0', 'Edm.Int32'),
  ].join('')}</m:properties></entry>`;
}

function feedXml(baseUrl: string, title: string, entries: readonly string[], next?: string): FormatResponse {
  const u = urls(baseUrl);
  const body = `<?xml version="1.0" encoding="utf-8"?><feed xml:base="${escapeXml(u.v2)}" xmlns="${ATOM}" xmlns:d="${D}" xmlns:m="${M}"><id>${escapeXml(`${u.v2}${title}`)}</id><title type="text">${escapeXml(title)}</title><updated>${new Date().toISOString()}</updated><link rel="self" title="${escapeXml(title)}" href="${escapeXml(title)}"/>${entries.join('')}${next ? `<link rel="next" href="${escapeXml(next)}"/>` : ''}</feed>`;
  return { headers: HEADERS, body: { kind: 'text', value: body, contentType: FEED_TYPE }, cachePolicy: 'no-store' };
}

/** Which of a document's versions are the latest stable and the latest of all (listed ones only). */
function latestKeys(doc: PackageDocument): { stable?: string; absolute?: string } {
  const listed = sortedKeys(doc).filter((k) => doc.versions[k]!.listed);
  return { stable: listed.filter((k) => !isPrerelease(parseVersion(k)!)).at(-1), absolute: listed.at(-1) };
}

const flags = (doc: PackageDocument, key: string) => {
  const latest = latestKeys(doc);
  return { stable: latest.stable === key, absolute: latest.absolute === key };
};

/** `Packages(Id=,Version=)` and `FindPackagesById()`: from the package's registration. */
const packageFeed = packageDocument(
  true,
  (ctx: FormatRequestContext, { value }: LoadedDocument<PackageDocument>) => {
    const request = parseRequest(ctx);
    if (request.kind === 'entry') {
      const e = value.versions[request.key];
      if (!e) throw new NotFoundError(`${request.lid} ${request.key} is not in ${ctx.repository.name}`);
      const xml = feedXml(ctx.baseUrl, 'Packages', [entryXml(ctx.baseUrl, value.id, e, flags(value, request.key))]);
      // A single entry is served as a one-entry feed's entry document.
      const body = (xml.body as { value: string }).value.replace(/^.*?<entry>/, `<?xml version="1.0" encoding="utf-8"?><entry xml:base="${escapeXml(urls(ctx.baseUrl).v2)}" xmlns="${ATOM}" xmlns:d="${D}" xmlns:m="${M}">`).replace(/<\/entry>.*$/, '</entry>');
      return { headers: HEADERS, body: { kind: 'text', value: body, contentType: 'application/atom+xml;type=entry;charset=utf-8' }, cachePolicy: 'no-store' };
    }
    const latest = latestKeys(value);
    const rows = sortedKeys(value).map((k) => ({ id: value.id, key: k, stable: latest.stable === k, absolute: latest.absolute === k, xml: () => entryXml(ctx.baseUrl, value.id, value.versions[k]!, flags(value, k)) }));
    return applyOptions(ctx, rows, 'FindPackagesById');
  },
  (ctx) => {
    const request = parseRequest(ctx);
    if (request.kind !== 'entry' && request.kind !== 'versions') throw new NotFoundError('not a package request');
    return request.lid;
  },
);

/** The v2 search parameters (`searchTerm`, `includePrerelease`); paging and filters apply to the merged entries. */
function v2Query(ctx: FormatRequestContext) {
  return { q: literal(ctx.query.get('searchTerm')) ?? '', skip: 0, take: ctx.repository.limits.maxSearchResults, prerelease: ctx.query.get('includePrerelease') === 'true', semVer2: /^2\./.test(ctx.query.get('semVerLevel') ?? '') };
}

/** Every version of a search hit as an entry (with the latest version's descriptive fields). */
function hitRows(baseUrl: string, hit: SearchHit): Row[] {
  const keys = hit.versions.map((v) => keyOf(v.version)).sort(compareVersionText);
  const stable = keys.filter((k) => !isPrerelease(parseVersion(k)!)).at(-1);
  const absolute = keys.at(-1);
  const fields = { listed: true, description: hit.description, summary: hit.summary, title: hit.title, authors: hit.authors.join(', '), tags: hit.tags.join(' '), ...(hit.projectUrl ? { projectUrl: hit.projectUrl } : {}), ...(hit.licenseUrl ? { licenseUrl: hit.licenseUrl } : {}), ...(hit.iconUrl ? { iconUrl: hit.iconUrl } : {}) };
  return hit.versions.map((v) => {
    const key = keyOf(v.version);
    return { id: hit.id, key, stable: key === stable, absolute: key === absolute, xml: () => entryXml(baseUrl, hit.id, { version: v.version, ...fields }, { stable: key === stable, absolute: key === absolute }) };
  });
}

const searchFeed = searchDocument(v2Query, (ctx, { value }: LoadedDocument<SearchResult>) => applyOptions(ctx, value.data.flatMap((hit) => hitRows(ctx.baseUrl, hit)), 'Search'));

const SERVICE = (base: string) =>
  `<?xml version="1.0" encoding="utf-8"?><service xml:base="${escapeXml(base)}" xmlns="http://www.w3.org/2007/app" xmlns:atom="${ATOM}"><workspace><atom:title>Default</atom:title><collection href="Packages"><atom:title>Packages</atom:title></collection></workspace></service>`;

const PROPERTIES: readonly [string, string, boolean][] = [
  ['Id', 'Edm.String', false], ['Version', 'Edm.String', false], ['NormalizedVersion', 'Edm.String', true], ['Authors', 'Edm.String', true], ['Copyright', 'Edm.String', true],
  ['Created', 'Edm.DateTime', false], ['Dependencies', 'Edm.String', true], ['Description', 'Edm.String', true], ['DownloadCount', 'Edm.Int32', false], ['IconUrl', 'Edm.String', true],
  ['IsLatestVersion', 'Edm.Boolean', false], ['IsAbsoluteLatestVersion', 'Edm.Boolean', false], ['IsPrerelease', 'Edm.Boolean', false], ['LastUpdated', 'Edm.DateTime', false],
  ['Listed', 'Edm.Boolean', false], ['LicenseUrl', 'Edm.String', true], ['PackageHash', 'Edm.String', true], ['PackageHashAlgorithm', 'Edm.String', true], ['PackageSize', 'Edm.Int64', false],
  ['ProjectUrl', 'Edm.String', true], ['Published', 'Edm.DateTime', false], ['ReleaseNotes', 'Edm.String', true], ['RequireLicenseAcceptance', 'Edm.Boolean', false], ['Summary', 'Edm.String', true],
  ['Tags', 'Edm.String', true], ['Title', 'Edm.String', true], ['VersionDownloadCount', 'Edm.Int32', false],
];

const METADATA = `<?xml version="1.0" encoding="utf-8" standalone="yes"?><edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx"><edmx:DataServices xmlns:m="${M}" m:DataServiceVersion="2.0"><Schema Namespace="NuGetGallery" xmlns:d="${D}" xmlns:m="${M}" xmlns="http://schemas.microsoft.com/ado/2006/04/edm"><EntityType Name="V2FeedPackage" m:HasStream="true"><Key><PropertyRef Name="Id"/><PropertyRef Name="Version"/></Key>${PROPERTIES.map(([name, type, nullable]) => `<Property Name="${name}" Type="${type}" Nullable="${nullable}"/>`).join('')}</EntityType><EntityContainer Name="V2FeedContext" m:IsDefaultEntityContainer="true"><EntitySet Name="Packages" EntityType="NuGetGallery.V2FeedPackage"/><FunctionImport Name="Search" EntitySet="Packages" ReturnType="Collection(NuGetGallery.V2FeedPackage)" m:HttpMethod="GET"><Parameter Name="searchTerm" Type="Edm.String" Mode="In"/><Parameter Name="targetFramework" Type="Edm.String" Mode="In"/><Parameter Name="includePrerelease" Type="Edm.Boolean" Mode="In"/></FunctionImport><FunctionImport Name="FindPackagesById" EntitySet="Packages" ReturnType="Collection(NuGetGallery.V2FeedPackage)" m:HttpMethod="GET"><Parameter Name="id" Type="Edm.String" Mode="In"/></FunctionImport></EntityContainer></Schema></edmx:DataServices></edmx:Edmx>`;

function v2Plan(ctx: FormatRequestContext) {
  const request = parseRequest(ctx);
  if (request.kind === 'entry' || request.kind === 'versions') return { serve: 'package' as const, package: request.lid, merge: packageFeed };
  if (request.kind === 'search') return { serve: 'members' as const, merge: searchFeed };
  return { serve: 'group' as const };
}

async function v2Handler(ctx: FormatRequestContext): Promise<FormatResponse> {
  const request = parseRequest(ctx);
  if (request.kind === 'service') return { headers: HEADERS, body: { kind: 'text', value: SERVICE(urls(ctx.baseUrl).v2), contentType: 'application/xml;charset=utf-8' } };
  if (request.kind === 'metadata') return { headers: HEADERS, body: { kind: 'text', value: METADATA, contentType: 'application/xml;charset=utf-8' } };
  const document = request.kind === 'search' ? searchFeed : packageFeed;
  const loaded = await loadDocument(document as MergeableDocument<unknown>, ctx);
  if (!loaded) {
    if (request.kind === 'versions') return feedXml(ctx.baseUrl, 'FindPackagesById', []);
    throw new NotFoundError(`${request.kind === 'entry' ? `${request.lid} ${request.key}` : 'that'} is not in ${ctx.repository.name}`);
  }
  return (document.render as (ctx: FormatRequestContext, d: LoadedDocument<unknown>) => FormatResponse | Promise<FormatResponse>)(ctx, loaded);
}

export const v2Routes: readonly RouteDefinition[] = [
  {
    method: 'GET',
    path: '/api/v2/package/:id/:version',
    permission: 'read',
    handler: packageFile((ctx) => ({ lid: lowerId(param(ctx, 'id') ?? ''), key: keyOf(param(ctx, 'version') ?? ''), kind: 'nupkg' })),
    group: (ctx) => ({ serve: 'package', package: lowerId(param(ctx, 'id') ?? '') }),
  },
  { method: 'GET', path: '/api/v2/', permission: 'read', handler: v2Handler, group: v2Plan },
  { method: 'GET', path: '/api/v2/*rest', permission: 'read', handler: v2Handler, group: v2Plan },
];
