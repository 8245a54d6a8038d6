import {
  BadRequestError,
  NotFoundError,
  UnauthorizedError,
  assetResponse,
  jsonResponse,
  renderedResponse,
  serveDocument,
  type HandlersByKind,
  type HostedRepositoryHandle,
  type ErrorInfo,
  type FormatDefinition,
  type FormatRequestContext,
  type FormatResponse,
  type GroupPlan,
  type MergeableDocument,
  type RepositoryInfo,
  type ClientSetting,
  type ClientSettingsFile,
  type RouteDefinition,
  routeParam,
} from '@registry-core/api';
import { loadHostedCrate, cratePath, publish, publishRequest, setYanked } from './hosted.js';
import { mergeIndexLines, renderIndexFile, type IndexLine } from './index-lines.js';
import { canonicalName, crateOfIndexPath, indexPath, registryName, validateCrateName, validateVersion } from './names.js';
import { cargoDefaultUpstreams } from './local-cargo.js';
import { cargoInstallLines, cargoPackageView } from './package-view.js';
import { MAX_INDEX_BYTES, loadUpstreamIndex, proxyDownload } from './proxy.js';
import { downloadOf } from './downloads.js';

function param(ctx: FormatRequestContext, key: string): string {
  return routeParam(ctx, key) ?? '';
}

/** The crate (lower-cased) an index request names, from the path. */
function indexCrate(ctx: FormatRequestContext): string {
  const segments = ctx.path.split('/').filter((s) => s !== '').map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new BadRequestError('invalid path');
    }
  });
  return crateOfIndexPath(segments);
}

/** One crate's index file as a repository serves it, and when it last changed. */
interface IndexDocument {
  readonly lines: readonly IndexLine[];
  readonly modified?: number;
}

/** The crate an index path names (lower-cased), once the caller may read it. */
function readableIndexCrate(ctx: FormatRequestContext): string {
  const lower = indexCrate(ctx);
  ctx.authorize('read', canonicalName(lower));
  return lower;
}

/** A crate's index file: a hosted crate's lines, or the upstream's; a group merges its members'. */
const indexFile: MergeableDocument<IndexDocument> = {
  async hosted(ctx, repo) {
    const lower = readableIndexCrate(ctx);
    const stored = await loadHostedCrate(repo, canonicalName(lower));
    // Another spelling (`foo_bar` for `foo-bar`) has no index file of its own.
    if (!stored || stored.value.name.toLowerCase() !== lower) return undefined;
    // The change time too: a crate deleted and published again starts its revisions again.
    return { value: { lines: stored.value.lines, modified: stored.updatedAt.getTime() }, revision: `${stored.revision}.${stored.updatedAt.getTime()}` };
  },
  async proxy(ctx, repo) {
    const loaded = await loadUpstreamIndex(repo, readableIndexCrate(ctx));
    return loaded ? { value: { lines: loaded.lines, modified: loaded.asset.updatedAt.getTime() }, cache: loaded.cache, revision: loaded.asset.digests.sha256 } : undefined;
  },
  merge: (documents) => ({ lines: mergeIndexLines(documents.map((d) => d.lines)), modified: Math.max(...documents.map((d) => d.modified ?? 0)) }),
  // Rendered once per revision (a group's names its members') and kept in the kernel's derived
  // memory, one per crate: the key names the crate, which a member's revision does not.
  async render(ctx, { value, cache, revision }) {
    const lower = indexCrate(ctx);
    const rendered = await ctx.repository.derived.renderText(revision === undefined ? undefined : `cargo:index\u0000${lower}\u0000${revision}`, () => renderIndexFile(value.lines), `cargo:index\u0000${lower}`);
    return renderedResponse(rendered, {
      ...(cache ? { cache } : {}),
      headers: value.modified ? { 'last-modified': new Date(value.modified).toUTCString() } : ({} as Record<string, string>),
      contentType: 'text/plain; charset=utf-8',
    });
  },
};

const notInRepository = (ctx: FormatRequestContext, what: string) => new NotFoundError(`${what} is not in ${ctx.repository.name}`);

const serveIndex = serveDocument(indexFile, (ctx) => notInRepository(ctx, `crate ${indexCrate(ctx)}`));

/**
 * `config.json`: where cargo downloads and publishes, under the URL the client used (a
 * group's own). With anonymous reads off, an anonymous request gets a 401 (cargo then asks
 * again with its token) and the answer says `auth-required`, so cargo sends its token on
 * every read.
 */
async function configJson(ctx: FormatRequestContext): Promise<FormatResponse> {
  if (ctx.principal.anonymous && !ctx.allowed('read')) throw new UnauthorizedError(`${ctx.repository.name} needs a token to read: set one with cargo login`);
  ctx.authorize('read');
  const api = ctx.baseUrl.replace(/\/+$/, '');
  return jsonResponse({ dl: `${ctx.baseUrl}api/v1/crates`, api, 'auth-required': !ctx.principal.anonymous }, { cachePolicy: 'no-store' });
}

/** The crate and version of a download, once the caller may read the crate. */
function readableDownload(ctx: FormatRequestContext): { crate: string; vers: string } {
  const crate = validateIndexedName(param(ctx, 'crate'));
  const vers = validateVersion(param(ctx, 'version'));
  ctx.authorize('read', canonicalName(crate));
  return { crate, vers };
}

/** `GET /api/v1/crates/:crate/:version/download`. */
const download: HandlersByKind = {
  async hosted(ctx, repo) {
    const { crate, vers } = readableDownload(ctx);
    const stored = await repo.assets.get(cratePath(crate, vers));
    if (!stored) throw notInRepository(ctx, `${crate} ${vers}`);
    return assetResponse(stored);
  },
  async proxy(ctx, repo) {
    const { crate, vers } = readableDownload(ctx);
    return proxyDownload(repo, crate, vers);
  },
};

/** A crate name in a URL: crates.io's rules, except that an upstream's crate may be older than them. */
function validateIndexedName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(name)) validateCrateName(name);
  return name;
}

const crateParamPlan = (ctx: FormatRequestContext): GroupPlan => ({ serve: 'package', package: canonicalName(validateIndexedName(param(ctx, 'crate'))) });

interface SearchResult {
  readonly total: number;
  readonly crates: readonly { name: string; max_version: string; description: string | null }[];
}

/** `GET /api/v1/crates?q=…&per_page=…`: hosted crates matching the query (proxies are not searched). */
const search: MergeableDocument<SearchResult> = {
  async hosted(ctx, repo) {
    const perPage = Math.min(Math.max(Number(ctx.query.get('per_page') ?? 10) || 10, 1), 100, repo.limits.maxSearchResults);
    const found = await repo.components.search({ text: (ctx.query.get('q') ?? '').slice(0, 256), limit: repo.limits.maxSearchResults });
    const byName = new Map<string, { name: string; max_version: string; description: string | null }>();
    for (const c of found.items) {
      if (!ctx.allowed('read', c.name)) continue;
      const display = typeof c.attributes['displayName'] === 'string' ? c.attributes['displayName'] : c.name;
      const known = byName.get(c.name);
      if (!known || compareVersions(c.version, known.max_version) > 0) {
        byName.set(c.name, { name: display, max_version: c.version, description: typeof c.attributes['description'] === 'string' ? c.attributes['description'] : null });
      }
    }
    const crates = [...byName.values()];
    return { value: { total: crates.length, crates: crates.slice(0, perPage) } };
  },
  merge: (results) => ({ total: results.reduce((n, r) => n + r.total, 0), crates: results.flatMap((r) => r.crates) }),
  render: (_ctx, { value }) => jsonResponse({ crates: value.crates, meta: { total: value.total } }, { cachePolicy: 'no-store' }),
};

/** SemVer precedence of two versions (enough to pick a crate's newest for search). */
function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const [core, pre] = v.split('+')[0]!.split(/-(.*)/s) as [string, string | undefined];
    return { nums: core.split('.').map(Number), pre };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) if (x.nums[i] !== y.nums[i]) return (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
  if (x.pre === y.pre) return 0;
  if (x.pre === undefined) return 1;
  if (y.pre === undefined) return -1;
  return x.pre < y.pre ? -1 : 1;
}

/** `GET|PUT|DELETE /api/v1/crates/:crate/owners`, on the kernel's package owners. */
async function owners(ctx: FormatRequestContext, repo: HostedRepositoryHandle): Promise<FormatResponse> {
  const crate = validateCrateName(param(ctx, 'crate'));
  const canonical = canonicalName(crate);
  ctx.authorize(ctx.method === 'GET' ? 'read' : 'write', canonical);
  if (!(await loadHostedCrate(repo, canonical))) throw notInRepository(ctx, `crate \`${crate}\``);
  if (ctx.method === 'GET') {
    const list = await ctx.owners.list(canonical);
    return jsonResponse({ users: list.map((o, i) => ({ id: i + 1, login: o.name, name: null, ...(o.email ? { email: o.email } : {}) })) }, { cachePolicy: 'no-store' });
  }
  const users = (ctx.body as { users?: unknown } | undefined)?.users;
  if (!Array.isArray(users) || users.length === 0 || users.length > 100 || users.some((u) => typeof u !== 'string' || u === '' || u.length > 256)) throw new BadRequestError('expected {"users": ["login", ...]}');
  for (const user of users as string[]) {
    if (ctx.method === 'PUT') {
      if (!(await ctx.owners.user(user))) throw new NotFoundError(`could not find user with login \`${user}\``);
      await ctx.owners.add(canonical, user);
    } else await ctx.owners.remove(canonical, user);
  }
  await ctx.audit(ctx.method === 'PUT' ? 'owner.add' : 'owner.remove', { package: canonical, details: { users } });
  const who = (users as string[]).map((u) => `\`${u}\``).join(', ');
  return jsonResponse({ ok: true, msg: ctx.method === 'PUT' ? `user ${who} has been added as an owner of crate \`${crate}\`` : `owners ${who} removed from crate \`${crate}\`` }, { cachePolicy: 'no-store' });
}

const indexRoute = (path: string): RouteDefinition => ({
  method: 'GET',
  path,
  permission: 'read',
  handler: serveIndex,
  group: (ctx) => ({ serve: 'package', package: canonicalName(indexCrate(ctx)), merge: indexFile }),
});

const ok = () => jsonResponse({ ok: true }, { cachePolicy: 'no-store' });

const routes: RouteDefinition[] = [
  { method: 'GET', path: '/config.json', permission: 'none', handler: configJson, group: () => ({ serve: 'group' }) },
  {
    method: 'GET',
    path: '/me',
    permission: 'none',
    handler: async (ctx) => ({
      body: { kind: 'text', value: `Create a token for ${ctx.repository.name} with \`registry-core token create --user <you>\`, then run \`cargo login --registry <name>\` and paste it.\n`, contentType: 'text/plain; charset=utf-8' },
      cachePolicy: 'no-store',
    }),
    group: () => ({ serve: 'group' }),
  },
  {
    method: 'PUT',
    path: '/api/v1/crates/new',
    permission: 'write',
    body: { kind: 'stream' },
    handler: async (ctx) => jsonResponse(await publish(ctx), { cachePolicy: 'no-store' }),
    group: async (ctx) => ({ serve: 'package', package: canonicalName((await publishRequest(ctx)).name) }),
  },
  {
    method: 'GET',
    path: '/api/v1/crates',
    permission: 'read',
    handler: serveDocument(search, (ctx) => new NotFoundError(`${ctx.repository.name} is a proxy: its upstream's crates are not searchable here`)),
    group: () => ({ serve: 'members', merge: search }),
  },
  { method: 'GET', path: '/api/v1/crates/:crate/:version/download', permission: 'read', handler: download, group: crateParamPlan },
  {
    method: 'DELETE',
    path: '/api/v1/crates/:crate/:version/yank',
    permission: 'write',
    handler: async (ctx) => (await setYanked(ctx, param(ctx, 'crate'), param(ctx, 'version'), true), ok()),
    group: crateParamPlan,
  },
  {
    method: 'PUT',
    path: '/api/v1/crates/:crate/:version/unyank',
    permission: 'write',
    handler: async (ctx) => (await setYanked(ctx, param(ctx, 'crate'), param(ctx, 'version'), false), ok()),
    group: crateParamPlan,
  },
  { method: 'GET', path: '/api/v1/crates/:crate/owners', permission: 'read', handler: { hosted: owners }, group: crateParamPlan },
  { method: ['PUT', 'DELETE'], path: '/api/v1/crates/:crate/owners', permission: 'write', body: { kind: 'json', limit: 64 * 1024 }, handler: { hosted: owners }, group: crateParamPlan },
  indexRoute('/1/:name'),
  indexRoute('/2/:name'),
  indexRoute('/3/:first/:name'),
  indexRoute('/:ab/:cd/:name'),
];

/** Cargo's error shape: it prints each `detail`. */
function errorBody(error: ErrorInfo) {
  return { contentType: 'application/json; charset=utf-8', body: JSON.stringify({ errors: [{ detail: error.message }] }) };
}

/** A registry name for cargo's config from a repository name (`[A-Za-z0-9_-]`). */

function clientConfig(repo: RepositoryInfo): string[] {
  const name = registryName(repo);
  const index = `sparse+${repo.url}`;
  const lines = [`.cargo/config.toml: [registries.${name}] index = "${index}"`];
  // A source name apart from the registry name, so both stanzas read clearly in one config.
  if (repo.reachesUpstream) lines.push(`.cargo/config.toml (crates.io through it): [source.crates-io] replace-with = "${name}-mirror"  [source.${name}-mirror] registry = "${index}"`);
  if (repo.takesWrites) {
    lines.push(
      `.cargo/config.toml: [registry] global-credential-providers = ["cargo:token"]`,
      `cargo login --registry ${name}  (or CARGO_REGISTRIES_${name.toUpperCase().replace(/-/g, '_')}_TOKEN=<token>)`,
      `cargo publish --registry ${name}`,
    );
  }
  return lines;
}

/**
 * `~/.cargo/config.toml` (the registry by name, its index; crates.io replaced by it when it
 * reaches an upstream; the token credential provider when it takes publishes) and, with a
 * token, `~/.cargo/credentials.toml`.
 */
function clientSettings(repo: RepositoryInfo, token: string | undefined): ClientSettingsFile[] {
  const name = registryName(repo);
  const index = `sparse+${repo.url}`;
  const config: ClientSetting[] = [{ section: `registries.${name}`, key: 'index', value: index }];
  if (repo.reachesUpstream) config.push({ section: 'source.crates-io', key: 'replace-with', value: `${name}-mirror` }, { section: `source.${name}-mirror`, key: 'registry', value: index });
  if (repo.takesWrites) config.push({ section: 'registry', key: 'global-credential-providers', value: 'cargo:token', listItem: true });
  const files: ClientSettingsFile[] = [{ client: 'cargo', path: '.cargo/config.toml', syntax: 'toml', settings: config }];
  if (token && repo.takesWrites) files.push({ client: 'cargo', path: '.cargo/credentials.toml', syntax: 'toml', settings: [{ section: `registries.${name}`, key: 'token', value: token }] });
  return files;
}

export const cargoFormat: FormatDefinition = {
  downloadOf,
  id: 'cargo',
  routes,
  errorBody,
  // Cargo sends `Authorization: <token>`, no scheme.
  bareTokenAuthorization: true,
  authChallenge: (repo) => `Cargo login_url="${repo.url}me"`,
  clientConfig,
  clientSettings,
  packageView: cargoPackageView,
  installLines: cargoInstallLines,
  defaultUpstream: cargoDefaultUpstreams,
  maxMetadataBytes: MAX_INDEX_BYTES,
  // The crate's index file: what the kernel asks a group's proxies before a new crate is published.
  packageDocumentPath: (canonical) => `/${indexPath(canonical)}`,
  upstreamScope(upstream) {
    // crates.io's index lists downloads on its static host.
    return new URL(upstream).hostname === 'index.crates.io' ? { origins: ['https://static.crates.io'] } : {};
  },
};
