import {
  BadRequestError,
  NotFoundError,
  assetResponse,
  basicChallenge,
  jsonResponse,
  loadDocument,
  serveDocument,
  type HandlersByKind,
  type LoadedDocument,
  type ProxyRepositoryHandle,
  type RepositoryHandle,
  type FormatDefinition,
  type FormatRequestContext,
  type FormatResponse,
  type MergeableDocument,
  type MultipartBody,
  type RepositoryInfo,
  type RouteDefinition,
  routeParam,
} from '@registry-core/api';
import { zigInstallLines, zigPackageView } from './package-view.js';
import { packageKey, packageView, tarballPath, tarballUrl, viewOf, type PackageDocument } from './documents.js';
import { hashKey, publish, uploadedManifest, type HashEntry } from './hosted.js';
import { validatePackageName, validateVersion } from './manifest.js';
import { isZigHash } from './package-hash.js';
import { publishCommand } from './publish-command.js';
import { MAX_PACKAGE_DOCUMENT_BYTES, cacheableUrl, loadUpstreamPackage, serveCachedUrl, servesPackages, upstreamIsRegistry, upstreamTarball, urlFromPath } from './proxy.js';
import { downloadOf } from './downloads.js';

function param(ctx: FormatRequestContext, key: string): string {
  const text = routeParam(ctx, key);
  if (text === undefined) throw new NotFoundError('not found');
  return text;
}

/** The package a path names, validated (a hostile name is a 400, never a lookup). */
const nameOf = (ctx: FormatRequestContext) => validatePackageName(param(ctx, 'name'));
const versionOf = (ctx: FormatRequestContext) => validateVersion(param(ctx, 'version'));

/** The package a path names, once the caller may read it. */
function readableName(ctx: FormatRequestContext): string {
  const name = nameOf(ctx);
  ctx.authorize('read', name);
  return name;
}

/** A package's document wherever this repository keeps it: stored (hosted) or upstream (proxy). */
const packageDocument: MergeableDocument<PackageDocument> = {
  async hosted(ctx, repo) {
    const stored = await repo.documents.get<PackageDocument>(packageKey(readableName(ctx)));
    return stored ? { value: stored.value, revision: `${stored.revision}` } : undefined;
  },
  async proxy(ctx, repo) {
    const loaded = await loadUpstreamPackage(repo, readableName(ctx));
    return loaded ? { value: loaded.doc, cache: loaded.cache } : undefined;
  },
  // A name is served by its owner alone; proxies merged in member order, the first one's version winning.
  merge: (docs) => ({ ...docs[0]!, versions: Object.assign(Object.create(null), ...[...docs].reverse().map((d) => d.versions)) as PackageDocument['versions'] }),
  render(ctx, { value, cache }) {
    const view = packageView(value, ctx.baseUrl);
    const init = cache ? { cache } : {};
    if (ctx.path.endsWith('/versions')) return jsonResponse({ name: view.name, latest: view.latest, versions: view.versions.map((v) => v.version) }, init);
    if (ctx.params['version'] !== undefined) {
      const version = versionOf(ctx);
      const record = value.versions[version];
      if (!record) throw new NotFoundError(`${value.name} has no version ${version} in ${ctx.repository.name}`);
      return jsonResponse(viewOf(record, ctx.baseUrl), init);
    }
    return jsonResponse(view, init);
  },
};

const servePackage = serveDocument(packageDocument, (ctx) => new NotFoundError(`package ${nameOf(ctx)} is not in ${ctx.repository.name}`));

const tarball: HandlersByKind = {
  async hosted(ctx, repo) {
    const name = readableName(ctx);
    const version = versionOf(ctx);
    const asset = await repo.assets.get(tarballPath(name, version));
    if (!asset) throw new NotFoundError(`${name} ${version} is not in ${repo.name}`);
    return assetResponse(asset);
  },
  proxy: async (ctx, repo) => upstreamTarball(ctx, repo, readableName(ctx), versionOf(ctx)),
};

/** `hash/<hash>`: which package a hash is, and a redirect to its archive. */
interface HashFound {
  readonly name?: string;
  readonly version?: string;
  readonly url?: string;
  readonly tarballUrl: string;
}

const hashLookup: MergeableDocument<HashFound> = {
  // Hosted repositories know the hashes of what was published, proxies those of what they fetched.
  hosted: lookupHash,
  proxy: lookupHash,
  merge: (found) => found[0]!,
  render: (_ctx, { value }) => ({ status: 302, headers: { location: value.tarballUrl }, body: { kind: 'json', value }, cachePolicy: 'no-store' }),
};

async function lookupHash(ctx: FormatRequestContext, repo: RepositoryHandle): Promise<LoadedDocument<HashFound> | undefined> {
  const hash = param(ctx, 'hash');
  if (!isZigHash(hash)) throw new BadRequestError(`not a zig package hash: ${JSON.stringify(hash.slice(0, 100))}`);
  const entry = await repo.kv.get<HashEntry>(hashKey(hash));
  if (entry?.name && entry.version) {
    if (!ctx.allowed('read', entry.name)) return undefined;
    // Only a published version: the entry is written before its publish commits.
    const published = (await repo.documents.get<PackageDocument>(packageKey(entry.name)))?.value.versions[entry.version];
    if (!published || !Object.values(published.hashes).includes(hash)) return undefined;
    return { value: { name: entry.name, version: entry.version, tarballUrl: tarballUrl(ctx.baseUrl, entry.name, entry.version) } };
  }
  if (entry?.url) return { value: { url: entry.url, tarballUrl: `${ctx.baseUrl}fetch?url=${encodeURIComponent(entry.url)}` } };
  return undefined;
}

/** Hosted components matching `q`, for `GET /search`. */
const search: MergeableDocument<{ total: number; results: { name: string; version: string; description: string | null; hash: unknown }[] }> = {
  async hosted(ctx, repo) {
    const limit = Math.min(Number(ctx.query.get('limit') ?? 20) || 20, repo.limits.maxSearchResults);
    const offset = Math.max(0, Number(ctx.query.get('offset') ?? 0) || 0);
    const found = await repo.components.search({ text: (ctx.query.get('q') ?? '').slice(0, 256), offset, limit });
    const items = found.items.filter((c) => ctx.allowed('read', c.name));
    return { value: { total: found.total - (found.items.length - items.length), results: items.map((c) => ({ name: c.name, version: c.version, description: (c.attributes['description'] as string | undefined) ?? null, hash: c.attributes['hash'] ?? null })) } };
  },
  merge: (results) => ({ total: results.reduce((n, r) => n + r.total, 0), results: results.flatMap((r) => r.results) }),
  render: (_ctx, { value }) => jsonResponse(value, { cachePolicy: 'no-store' }),
};

/** The URL cache, on proxy repositories (and groups with one). */
async function urlCache(ctx: FormatRequestContext, repo: ProxyRepositoryHandle, url: URL): Promise<FormatResponse> {
  ctx.authorize('read');
  const hash = ctx.query.get('hash') ?? undefined;
  return serveCachedUrl(ctx, repo, url, hash);
}

const packagePlan = (ctx: FormatRequestContext) => ({ serve: 'package' as const, package: nameOf(ctx) });

const routes: RouteDefinition[] = [
  {
    method: 'POST',
    path: '/publish',
    permission: 'write',
    body: { kind: 'multipart' },
    async handler(ctx) {
      const published = await publish(ctx);
      return jsonResponse(published, { status: 201, cachePolicy: 'no-store' });
    },
    // The package the archive's build.zig.zon names.
    group: async (ctx) => ({ serve: 'package', package: (await uploadedManifest(ctx)).name }),
  },
  ...['/packages/:name', '/packages/:name/versions', '/packages/:name/:version'].map(
    (path): RouteDefinition => ({ method: 'GET', path, permission: 'read', handler: servePackage, group: (ctx) => ({ ...packagePlan(ctx), merge: packageDocument }) }),
  ),
  { method: 'GET', path: '/packages/:name/:version/tarball', permission: 'read', handler: tarball, group: packagePlan },
  {
    method: 'GET',
    path: '/hash/:hash',
    permission: 'read',
    handler: serveDocument(hashLookup, (ctx) => new NotFoundError(`no package with hash ${param(ctx, 'hash')} in ${ctx.repository.name}`)),
    group: () => ({ serve: 'members', merge: hashLookup }),
  },
  {
    method: 'GET',
    path: '/search',
    permission: 'read',
    // A proxy's upstream is not searched: it answers an empty result.
    handler: async (ctx) => search.render(ctx, (await loadDocument(search, ctx)) ?? { value: { total: 0, results: [] } }),
    group: () => ({ serve: 'members', merge: search }),
  },
  { method: 'GET', path: '/fetch', permission: 'read', handler: { proxy: (ctx, repo) => urlCache(ctx, repo, cacheableUrl(ctx.query.get('url') ?? undefined)) }, group: () => ({ serve: 'upstream' }) },
  {
    method: 'GET',
    path: '/url/*rest',
    permission: 'read',
    handler: { proxy: (ctx, repo) => urlCache(ctx, repo, urlFromPath((ctx.params['rest'] as readonly string[] | undefined) ?? [], ctx.query)) },
    group: () => ({ serve: 'upstream' }),
  },
];

function clientConfig(repo: RepositoryInfo): string[] {
  // A proxy of GitHub (or with `packages: false`) is a URL cache alone.
  const urlCacheOnly = repo.type === 'proxy' && !servesPackages(repo.config, typeof repo.config['upstream'] === 'string' ? repo.config['upstream'] : undefined);
  const lines = urlCacheOnly ? [] : [
    `zig fetch --save ${repo.url}packages/<name>/<version>/tarball`,
    `build.zig.zon: .dependencies = .{ .<name> = .{ .url = "${repo.url}packages/<name>/<version>/tarball", .hash = "<hash from ${repo.url}packages/<name>/<version>>" } }`,
  ];
  if (repo.reachesUpstream) lines.push(`cache any allowed archive URL: .url = "${repo.url}fetch?url=<URL-encoded archive URL>" (or ${repo.url}url/https/<host>/<path>)`);
  if (repo.takesWrites) lines.push(`publish: registry-core zig publish <dir|archive.tar.gz> --registry ${repo.url} --token <token>  (or curl -F tarball=@pkg.tar.gz ${repo.url}publish)`);
  return lines;
}

export const zigFormat: FormatDefinition = {
  downloadOf,
  id: 'zig',
  routes,
  commands: [publishCommand],
  authChallenge: basicChallenge,
  clientConfig,
  packageView: zigPackageView,
  installLines: zigInstallLines,
  // No central Zig registry exists: the zero-config proxy is a URL cache of GitHub archives.
  defaultUpstream: () => [{ url: 'https://github.com/', source: 'GitHub (archive URLs; a URL cache)' }],
  maxMetadataBytes: MAX_PACKAGE_DOCUMENT_BYTES,
  packageDocumentPath: (name) => `/packages/${encodeURIComponent(name)}`,
  upstreamScope(upstream: string) {
    // GitHub's archive URLs redirect to codeload; release assets live on objects.githubusercontent.com.
    return new URL(upstream).hostname === 'github.com' ? { origins: ['https://codeload.github.com', 'https://objects.githubusercontent.com'] } : {};
  },
};

export { upstreamIsRegistry };
