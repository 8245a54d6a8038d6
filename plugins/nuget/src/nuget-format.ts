import {
  NotFoundError,
  assetResponse,
  jsonResponse,
  type FormatDefinition,
  type FormatRequestContext,
  type FormatResponse,
  type LoadedDocument,
  type MergeableDocument,
  type MultipartBody,
  type RepositoryInfo,
  type RouteDefinition,
  type ClientSettingsFile,
} from '@registry-core/api';
import { changeListing, loadHosted, nupkgPath, nuspecPath, push, pushedPackage, target } from './hosted.js';
import { lowerId } from './ids.js';
import { catalogEntry, mergeDocuments, registrationIndex, registrationLeaf, registrationPage, sortedKeys, urls, type PackageDocument } from './package-document.js';
import { MAX_DOCUMENT_BYTES, proxyFile, upstreamRegistration, upstreamSearch, upstreamVersions } from './proxy.js';
import { hitOf, hostedSearch, renderSearch, searchQuery, sortVersions, type SearchResult } from './search.js';
import { packageDocument, packageFile, param, requestedId, searchDocument, serve } from './reads.js';
import { v2Routes } from './v2-feed.js';
import { keyOf } from './versions.js';
import { downloadOf } from './downloads.js';
import { nugetInstallLines, nugetPackageView } from './package-view.js';

const withCache = (cache: LoadedDocument<unknown>['cache']) => (cache ? { cache } : {});

/** `v3-flatcontainer/{id}/index.json`: every version (unlisted ones too, as nuget.org), normalized and lower-cased. */
const flatIndex = packageDocument(false, (_ctx, { value, cache }) => jsonResponse({ versions: sortedKeys(value) }, withCache(cache)));

/** `v3/registration/{id}/index.json`, its pages, leaves and catalog entries. */
const registration = packageDocument(true, (ctx, { value, cache }) => {
  const file = param(ctx, 'file');
  const lower = param(ctx, 'lower');
  let body: Record<string, unknown> | undefined;
  if (lower !== undefined) body = registrationPage(ctx.baseUrl, value, keyOf(lower), keyOf((param(ctx, 'upper') ?? '').replace(/\.json$/, '')));
  else if (file === 'index.json') body = registrationIndex(ctx.baseUrl, value);
  else if (file?.endsWith('.json')) {
    const key = keyOf(file.slice(0, -'.json'.length));
    body = ctx.path.includes('/v3/catalog/') ? (value.versions[key] ? catalogEntry(ctx.baseUrl, value, key) : undefined) : registrationLeaf(ctx.baseUrl, value, key);
  }
  if (!body) throw new NotFoundError(`${ctx.path} is not in ${ctx.repository.name}`);
  return jsonResponse(body, withCache(cache));
});

const packagePlan = (merge?: MergeableDocument<PackageDocument>) => (ctx: FormatRequestContext) => ({ serve: 'package' as const, package: requestedId(ctx), ...(merge ? { merge } : {}) });

/** `v3-flatcontainer/{id}/{version}/{file}`: the .nupkg or the .nuspec. */
const flatFile = packageFile((ctx) => {
  const lid = requestedId(ctx);
  const key = keyOf(param(ctx, 'version') ?? '');
  const file = param(ctx, 'file');
  const kind = file === `${lid}.${key}.nupkg` ? 'nupkg' : file === `${lid}.nuspec` ? 'nuspec' : undefined;
  if (!kind) throw new NotFoundError(`${file} is not a file of ${lid} ${key}`);
  return { lid, key, kind };
});

/** The v3 search over one repository's packages, merged across a group's members. */
const search = searchDocument(
  (ctx) => searchQuery(ctx.query, ctx.repository.limits.maxSearchResults),
  // A group's members each answered a page: the merged answer is cut back to one.
  (ctx, { value }) => jsonResponse(renderSearch(ctx.baseUrl, { ...value, data: value.data.slice(0, searchQuery(ctx.query, ctx.repository.limits.maxSearchResults).take) }), { cachePolicy: 'no-store' }),
);

/** `v3/autocomplete`: ids matching `q`, or the versions of `id`. */
const autocomplete: MergeableDocument<string[]> = {
  async proxy(ctx, repo) {
    const answer = (await upstreamSearch(repo, 'autocomplete', ctx.query)) as { data?: unknown } | undefined;
    const data = Array.isArray(answer?.data) ? answer.data.filter((s): s is string => typeof s === 'string' && /^[\w.+-]{1,128}$/.test(s)) : [];
    return { value: data };
  },
  async hosted(ctx, repo) {
    const query = searchQuery(ctx.query, repo.limits.maxSearchResults);
    const id = ctx.query.get('id');
    if (id !== null) {
      const lid = lowerId(id);
      if (!ctx.allowed('read', lid)) return { value: [] };
      const stored = await loadHosted(repo, lid);
      return { value: stored ? (hitOf(stored.value, query)?.versions.map((v) => v.version) ?? []) : [] };
    }
    const result = await hostedSearch(ctx, repo, { ...query, skip: 0, take: repo.limits.maxSearchResults });
    return { value: result.data.map((hit) => hit.id) };
  },
  merge: (lists, ctx) => (ctx.query.get('id') !== null ? sortVersions(lists.flat()) : [...new Map(lists.flat().map((id) => [id.toLowerCase(), id])).values()].sort()),
  empty: () => [],
  render: (ctx, { value }) => {
    const query = searchQuery(ctx.query, ctx.repository.limits.maxSearchResults);
    const data = ctx.query.get('id') !== null ? value : value.slice(query.skip, query.skip + query.take);
    return jsonResponse({ totalHits: value.length, data }, { cachePolicy: 'no-store' });
  },
};

/** The service index: this repository's own resources (a proxy's never passes the upstream's on). */
function serviceIndex(ctx: FormatRequestContext): FormatResponse {
  const u = urls(ctx.baseUrl);
  const resource = (id: string, ...types: string[]) => types.map((type) => ({ '@id': id, '@type': type }));
  return jsonResponse({
    version: '3.0.0',
    resources: [
      ...resource(u.flat, 'PackageBaseAddress/3.0.0'),
      ...resource(u.registration, 'RegistrationsBaseUrl', 'RegistrationsBaseUrl/3.0.0-rc', 'RegistrationsBaseUrl/3.0.0-beta', 'RegistrationsBaseUrl/3.4.0', 'RegistrationsBaseUrl/3.6.0', 'RegistrationsBaseUrl/Versioned'),
      ...resource(u.search, 'SearchQueryService', 'SearchQueryService/3.0.0-rc', 'SearchQueryService/3.0.0-beta', 'SearchQueryService/3.5.0'),
      ...resource(u.autocomplete, 'SearchAutocompleteService', 'SearchAutocompleteService/3.0.0-rc', 'SearchAutocompleteService/3.5.0'),
      ...resource(u.publish, 'PackagePublish/2.0.0'),
      ...resource(u.v2, 'LegacyGallery', 'LegacyGallery/2.0.0'),
    ],
  });
}

/** A push's group plan: the package its .nuspec names. */
async function pushPlan(ctx: FormatRequestContext) {
  const { nuspec } = await pushedPackage(ctx.body as MultipartBody);
  return { serve: 'package' as const, package: nuspec.id.toLowerCase() };
}

const pushRoute = (path: string): RouteDefinition => ({
  method: 'PUT',
  path,
  permission: 'write',
  body: { kind: 'multipart' },
  async handler(ctx) {
    await push(ctx);
    return { status: 201, body: { kind: 'text', value: '', contentType: 'text/plain; charset=utf-8' }, cachePolicy: 'no-store' };
  },
  group: pushPlan,
});

const listingRoute = (method: 'DELETE' | 'POST', path: string): RouteDefinition => ({
  method,
  path,
  permission: 'delete',
  async handler(ctx) {
    await changeListing(ctx, method === 'POST');
    return { status: method === 'POST' ? 200 : 204, cachePolicy: 'no-store' };
  },
  group: (ctx) => ({ serve: 'package', package: target(ctx).lid }),
});

const routes: RouteDefinition[] = [
  { method: 'GET', path: '/v3/index.json', permission: 'read', handler: async (ctx) => serviceIndex(ctx), group: () => ({ serve: 'group' }) },
  { method: 'GET', path: '/v3-flatcontainer/:id/index.json', permission: 'read', handler: serve(flatIndex), group: packagePlan(flatIndex) },
  { method: 'GET', path: '/v3-flatcontainer/:id/:version/:file', permission: 'read', handler: flatFile, group: packagePlan() },
  ...['/v3/registration/:id/:file', '/v3/registration/:id/page/:lower/:upper', '/v3/catalog/:id/:file'].map(
    (path): RouteDefinition => ({ method: 'GET', path, permission: 'read', handler: serve(registration), group: packagePlan(registration) }),
  ),
  { method: 'GET', path: '/v3/query', permission: 'read', handler: serve(search), group: () => ({ serve: 'members', merge: search }) },
  { method: 'GET', path: '/v3/autocomplete', permission: 'read', handler: serve(autocomplete), group: () => ({ serve: 'members', merge: autocomplete }) },
  pushRoute('/api/v2/package'),
  // nuget.exe 2.x pushes to the source URL with a trailing slash.
  pushRoute('/api/v2/package/'),
  listingRoute('DELETE', '/api/v2/package/:id/:version'),
  listingRoute('POST', '/api/v2/package/:id/:version'),
  ...v2Routes,
];

/** nuget.org's service index, the zero-config proxy's upstream. */
export const NUGET_ORG = 'https://api.nuget.org/v3/index.json';

function clientConfig(repo: RepositoryInfo): string[] {
  const index = `${repo.url}v3/index.json`;
  const insecure = repo.url.startsWith('http:') ? ' allowInsecureConnections="true"' : '';
  const lines = [
    `nuget.config: <packageSources><add key="${repo.name}" value="${index}" protocolVersion="3"${insecure} /></packageSources>`,
    `dotnet nuget add source ${index} -n ${repo.name}`,
    `nuget 2.x (v2 feed): nuget sources add -Name ${repo.name} -Source ${repo.url}api/v2/`,
  ];
  if (repo.takesWrites) lines.push(`dotnet nuget push <pkg>.nupkg -s ${index} -k <token>`, `nuget push <pkg>.nupkg -Source ${repo.url}api/v2/package -ApiKey <token>`);
  return lines;
}

/** A source's name as NuGet writes it as an element name in `<packageSourceCredentials>` (XmlConvert.EncodeLocalName). */
function xmlLocalName(name: string): string {
  return [...name].map((c, i) => (/[A-Za-z_]/.test(c) || (i > 0 && /[\w.-]/.test(c)) ? c : `_x${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}_`)).join('');
}

/**
 * `~/.nuget/NuGet/NuGet.Config` (what dotnet and NuGet read for the user): the repository's v3
 * feed as a package source named after it and, with a token, its credentials (`__token__` and
 * the token as `ClearTextPassword`).
 */
function clientSettings(repo: RepositoryInfo, token: string | undefined): ClientSettingsFile[] {
  const source = `configuration/packageSources/add[@key=${repo.name}]`;
  const credentials = `configuration/packageSourceCredentials/${xmlLocalName(repo.name)}`;
  const settings = [
    { section: source, key: '@value', value: `${repo.url}v3/index.json` },
    { section: source, key: '@protocolVersion', value: '3' },
    ...(repo.url.startsWith('http:') ? [{ section: source, key: '@allowInsecureConnections', value: 'true' }] : []),
    ...(token === undefined
      ? []
      : [
          { section: `${credentials}/add[@key=Username]`, key: '@value', value: '__token__' },
          { section: `${credentials}/add[@key=ClearTextPassword]`, key: '@value', value: token },
        ]),
  ];
  return [{ client: 'nuget', path: '.nuget/NuGet/NuGet.Config', syntax: 'xml', settings }];
}

export const nugetFormat: FormatDefinition = {
  downloadOf,
  id: 'nuget',
  routes,
  credentialHeaders: ['x-nuget-apikey'],
  clientConfig,
  clientSettings,
  packageView: nugetPackageView,
  installLines: nugetInstallLines,
  defaultUpstream: () => [{ url: NUGET_ORG, source: 'nuget.org' }],
  maxMetadataBytes: MAX_DOCUMENT_BYTES,
  // A package's registration: what the kernel asks a group's proxies before a new id is pushed.
  packageDocumentPath: (lid) => `/v3-flatcontainer/${encodeURIComponent(lid)}/index.json`,
  upstreamScope(upstream: string) {
    const url = new URL(upstream);
    // A feed whose service index is at <root>/v3/index.json serves its resources under <root>/.
    const basePath = url.pathname.replace(/v3\/index\.json$/, '').replace(/[^/]*\.json$/, '');
    // nuget.org's search runs on other hosts than its service index.
    const origins = url.hostname === 'api.nuget.org' ? ['https://azuresearch-usnc.nuget.org', 'https://azuresearch-ussc.nuget.org', 'https://azuresearch-usse.nuget.org', 'https://azuresearch-ea.nuget.org', 'https://azuresearch-sea.nuget.org'] : [];
    return { basePath, origins };
  },
};
