import { execFile } from 'node:child_process';
import {
  BadRequestError,
  MethodNotAllowedError,
  basicChallenge,
  plainTextErrorBody,
  NotFoundError,
  assetResponse,
  jsonResponse,
  renderedResponse,
  serveDocument,
  type HandlersByKind,
  type FormatDefinition,
  type FormatRequestContext,
  type FormatResponse,
  type GroupPlan,
  type LoadedDocument,
  httpBaseUrl,
  type DefaultUpstream,
  type MergeableDocument,
  type MultipartBody,
  type RepositoryInfo,
  type ClientSettingsFile,
  type RouteDefinition,
  routeParam,
} from '@registry-core/api';
import { mergePages } from './group.js';
import { deleteFiles, filePath, hostedPage, hostedProjectNames, loadHostedProject, setYanked, upload, type HostedProject } from './hosted.js';
import { normalizeName, validateProjectName } from './names.js';
import { MAX_PAGE_BYTES, getProxyFile, loadUpstreamPage, rewritePage } from './proxy.js';
import { negotiate, renderIndex, renderProjectHtml, renderProjectJson, type ProjectPage } from './simple-index.js';
import { pypiInstallLines, pypiPackageView } from './package-view.js';
import { compareVersions, normalizeVersion } from './versions.js';
import { downloadOf } from './downloads.js';

const VARY = { vary: 'Accept' };

/** The project a path names: validated, and its normalized form. */
function projectOf(raw: string | undefined): { name: string; normalized: string } {
  if (raw === undefined) throw new NotFoundError('not found');
  const name = validateProjectName(raw);
  return { name, normalized: normalizeName(name) };
}

const param = routeParam;

/** A project as one repository serves it: its page (file URLs under `ctx.baseUrl`) and, when hosted, its releases' metadata. */
interface ProjectDocument {
  readonly page: ProjectPage;
  readonly hosted?: HostedProject;
}

/** The project a request names: the route's `project` parameter, or the simple page's path. */
function requestedProject(ctx: FormatRequestContext): string {
  return projectOf(param(ctx, 'project') ?? (param(ctx, 'rest') ?? '').split('/').filter((p) => p !== '')[0]).normalized;
}

/** The requested project, once the caller may read it. */
function readableProject(ctx: FormatRequestContext): string {
  const normalized = requestedProject(ctx);
  ctx.authorize('read', normalized);
  return normalized;
}

/**
 * A project's page and release metadata, mergeable across a group's members; the page's
 * name-level read rules apply on every member.
 */
function projectDocument(render: (ctx: FormatRequestContext, document: LoadedDocument<ProjectDocument>) => FormatResponse | Promise<FormatResponse>): MergeableDocument<ProjectDocument> {
  return {
    async hosted(ctx, repo) {
      const normalized = readableProject(ctx);
      const stored = await loadHostedProject(repo, normalized);
      // File URLs are under the base URL: the revision names it, and the stored document's
      // change time (a deleted and recreated project starts its revisions again).
      const revision = ['hosted', repo.name, normalized, stored?.revision, stored?.updatedAt.getTime(), ctx.baseUrl].join('\u0000');
      return stored ? { value: { page: hostedPage(stored.value, ctx.baseUrl), hosted: stored.value }, revision } : undefined;
    },
    async proxy(ctx, repo) {
      const normalized = readableProject(ctx);
      const loaded = await loadUpstreamPage(repo.upstream, normalized, repo.limits.maxMetadataBytes, repo.derived);
      if (!loaded) return undefined;
      const revision = ['proxy', repo.name, normalized, loaded.sha256, ctx.baseUrl].join('\u0000');
      return { value: { page: rewritePage(loaded.page, normalized, ctx.baseUrl) }, cache: loaded.cache, revision };
    },
    merge: (documents) => ({ page: mergePages(documents.map((d) => d.page)), ...(documents.find((d) => d.hosted) ? { hosted: documents.find((d) => d.hosted)!.hosted! } : {}) }),
    render,
  };
}

const projectNotFound = (ctx: FormatRequestContext) => new NotFoundError(`project ${requestedProject(ctx)} is not in ${ctx.repository.name}`);

/**
 * `GET /simple/<project>/`: HTML or JSON by Accept, rendered once per revision of the page
 * (a group's names its members') and representation, kept in the kernel's derived memory
 * and served from there with its ETag (304 on a match).
 */
const simplePage = projectDocument(async (ctx, { value, cache, revision }) => {
  const representation = negotiate(ctx.headers['accept']);
  const produce = () => (representation.kind === 'json' ? JSON.stringify(renderProjectJson(value.page)) : renderProjectHtml(value.page));
  // One rendering per project and representation: a newer revision's replaces the older one's.
  const slot = `pypi:page\u0000${requestedProject(ctx)}\u0000${representation.kind}`;
  const rendered = await ctx.repository.derived.renderText(revision === undefined ? undefined : `pypi:page\u0000${revision}\u0000${representation.kind}`, produce, slot);
  return renderedResponse(rendered, { headers: VARY, contentType: representation.contentType, ...(cache ? { cache } : {}) });
});

const servePage = serveDocument(simplePage, projectNotFound);

/** Other spellings of a project page's URL: redirected to the normalized one. */
function pageRedirect(ctx: FormatRequestContext): FormatResponse | undefined {
  const raw = param(ctx, 'rest') ?? '';
  const parts = raw.split('/').filter((p) => p !== '');
  if (parts.length !== 1) throw new NotFoundError('not found');
  const { normalized } = projectOf(parts[0]);
  if (parts[0] === normalized && ctx.path.endsWith('/')) return undefined;
  const location = `${ctx.baseUrl}simple/${encodeURIComponent(normalized)}/`;
  return { status: 301, headers: { location, ...VARY }, body: { kind: 'text', value: `Moved to ${location}\n`, contentType: 'text/plain; charset=utf-8' } };
}

/** Every project a repository has: a hosted repository's names (a proxy does not mirror the upstream's list). */
const projectList: MergeableDocument<string[]> = {
  hosted: async (_ctx, repo) => ({ value: await hostedProjectNames(repo) }),
  merge(lists) {
    const seen = new Map<string, string>();
    for (const name of lists.flat()) if (!seen.has(normalizeName(name))) seen.set(normalizeName(name), name);
    return [...seen.values()].sort();
  },
  render(ctx, { value }) {
    const representation = negotiate(ctx.headers['accept']);
    const rendered = renderIndex(representation.kind, value);
    return { headers: VARY, body: { kind: 'text', value: typeof rendered === 'string' ? rendered : JSON.stringify(rendered), contentType: representation.contentType } };
  },
};

/** The file a `GET /packages/<project>/<file>` (or `<file>.metadata`) names, once the caller may read it. */
function requestedFile(ctx: FormatRequestContext): { normalized: string; requested: string; filename: string; metadata: boolean } {
  const { normalized } = projectOf(param(ctx, 'project'));
  const requested = param(ctx, 'filename') ?? '';
  if (requested === '' || requested.includes('/') || requested.includes('\\') || requested.startsWith('.')) throw new NotFoundError('not found');
  ctx.authorize('read', normalized);
  const metadata = requested.endsWith('.metadata');
  return { normalized, requested, filename: metadata ? requested.slice(0, -'.metadata'.length) : requested, metadata };
}

/** `GET /packages/<project>/<file>` and `<file>.metadata`. */
const getFile: HandlersByKind = {
  async hosted(ctx, repo) {
    const { normalized, requested, filename, metadata } = requestedFile(ctx);
    const stored = await repo.assets.get(`${filePath(normalized, filename)}${metadata ? '.metadata' : ''}`);
    if (!stored) throw new NotFoundError(`${requested} is not in ${repo.name}`);
    return assetResponse(stored);
  },
  async proxy(ctx, repo) {
    const { normalized, filename, metadata } = requestedFile(ctx);
    return getProxyFile(ctx, repo.upstream, normalized, filename, metadata);
  },
};

/** Warehouse's JSON API (`/pypi/<project>/json`, `/pypi/<project>/<version>/json`), from the simple page. */
const jsonApi = projectDocument((ctx, { value, cache }) => {
  const normalized = requestedProject(ctx);
  const wanted = param(ctx, 'version');
  const { page, hosted } = value;
  const byVersion = new Map<string, ProjectPage['files'][number][]>();
  for (const file of page.files) {
    const version = versionOfFile(file.filename, normalized);
    if (version === undefined) continue;
    byVersion.set(version, [...(byVersion.get(version) ?? []), file]);
  }
  for (const version of page.versions) if (!byVersion.has(normalizeVersion(version) ?? version)) byVersion.set(normalizeVersion(version) ?? version, []);
  const versions = [...byVersion.keys()].sort(compareVersions);
  const target = wanted !== undefined ? normalizeVersion(wanted) : versions.filter((v) => byVersion.get(v)!.some((f) => f.yanked === false)).at(-1) ?? versions.at(-1);
  if (target === undefined || !byVersion.has(target)) throw new NotFoundError(`${normalized} ${wanted ?? ''} is not in ${ctx.repository.name}`.trim());
  const urls = (files: ProjectPage['files']) =>
    files.map((f) => ({
      filename: f.filename,
      url: f.url,
      digests: f.hashes,
      packagetype: f.filename.endsWith('.whl') ? 'bdist_wheel' : 'sdist',
      requires_python: f.requiresPython ?? null,
      size: f.size ?? null,
      upload_time_iso_8601: f.uploadTime ?? null,
      yanked: f.yanked !== false,
      yanked_reason: f.yanked === false || f.yanked === '' ? null : f.yanked,
    }));
  const release = hosted?.releases[target];
  const info = {
    name: hosted?.name ?? page.name,
    version: release?.version ?? target,
    summary: release?.summary ?? null,
    requires_python: release?.requiresPython ?? null,
    requires_dist: release ? release.requiresDist : null,
    author: release?.author ?? null,
    author_email: release?.authorEmail ?? null,
    license: release?.license ?? null,
    home_page: release?.homePage ?? null,
    classifiers: release?.classifiers ?? [],
    project_urls: release ? Object.fromEntries(release.projectUrls.map((u) => u.split(',').map((s) => s.trim()) as [string, string]).filter(([k, v]) => k && v)) : null,
    yanked: (byVersion.get(target) ?? []).length > 0 && byVersion.get(target)!.every((f) => f.yanked !== false),
  };
  const init = cache ? { cache } : {};
  if (wanted !== undefined) return jsonResponse({ info, urls: urls(byVersion.get(target)!) }, init);
  return jsonResponse({ info, urls: urls(byVersion.get(target)!), releases: Object.fromEntries(versions.map((v) => [v, urls(byVersion.get(v)!)])) }, init);
});

/** The normalized version a distribution filename carries, when it is this project's. */
function versionOfFile(filename: string, normalized: string): string | undefined {
  const m = /^(.+?)-(\d[^-]*?)(?:-.+)?\.(?:whl|tar\.gz|zip|tar\.bz2|tgz)$/i.exec(filename);
  if (!m || normalizeName(m[1]!) !== normalized) return undefined;
  return normalizeVersion(m[2]!) ?? undefined;
}

interface AdminTarget {
  project?: unknown;
  version?: unknown;
  filename?: unknown;
  reason?: unknown;
}

function adminTarget(body: unknown): { project: string; version?: string; filename?: string; reason?: string } {
  const b = (body ?? {}) as AdminTarget;
  if (typeof b.project !== 'string') throw new BadRequestError('"project" is required');
  if (b.version !== undefined && typeof b.version !== 'string') throw new BadRequestError('"version" must be a string');
  if (b.filename !== undefined && typeof b.filename !== 'string') throw new BadRequestError('"filename" must be a string');
  if (b.reason !== undefined && typeof b.reason !== 'string') throw new BadRequestError('"reason" must be a string');
  if (b.version === undefined && b.filename === undefined) throw new BadRequestError('name a "version" or a "filename"');
  return { project: b.project, ...(b.version !== undefined ? { version: b.version as string } : {}), ...(b.filename !== undefined ? { filename: b.filename as string } : {}), ...(b.reason !== undefined ? { reason: b.reason as string } : {}) };
}

/** A group's plan for a management request: the hosted member owning the project the body names. */
function adminPlan(ctx: FormatRequestContext): GroupPlan {
  const b = (ctx.body ?? {}) as AdminTarget;
  if (typeof b.project !== 'string') throw new BadRequestError('"project" is required');
  return { serve: 'package', package: projectOf(b.project).normalized };
}

const uploadRoute = (path: string): RouteDefinition => ({
  method: 'POST',
  path,
  permission: 'write',
  body: { kind: 'multipart' },
  async handler(ctx) {
    await upload(ctx);
    return { status: 200, body: { kind: 'text', value: 'OK\n', contentType: 'text/plain; charset=utf-8' }, cachePolicy: 'no-store' };
  },
  // The project the form names; an upload without one is refused by the member.
  group(ctx) {
    const name = (ctx.body as MultipartBody | undefined)?.fields['name']?.[0];
    if (!name) throw new BadRequestError('Invalid value for name. Error: This field is required.');
    return { serve: 'package', package: projectOf(name).normalized };
  },
});

/** Hosted components matching a query, for `GET /-/search`. */
const search: MergeableDocument<{ total: number; items: { name: unknown; version: string; summary: unknown }[] }> = {
  async hosted(ctx, repo) {
    const limit = Math.min(Number(ctx.query.get('limit') ?? 20) || 20, repo.limits.maxSearchResults);
    const offset = Math.max(0, Number(ctx.query.get('offset') ?? 0) || 0);
    const found = await repo.components.search({ text: ctx.query.get('q') ?? '', offset, limit });
    // Names the caller may not read are left out, as a direct request would refuse them.
    const items = found.items.filter((c) => ctx.allowed('read', c.name));
    return { value: { total: found.total - (found.items.length - items.length), items: items.map((c) => ({ name: c.attributes['displayName'] ?? c.name, version: c.version, summary: c.attributes['description'] ?? null })) } };
  },
  merge: (results) => ({ total: results.reduce((n, r) => n + r.total, 0), items: results.flatMap((r) => r.items) }),
  render: (_ctx, { value }) => jsonResponse(value, { cachePolicy: 'no-store' }),
};

const routes: RouteDefinition[] = [
  {
    method: 'GET',
    path: '/simple/',
    permission: 'read',
    handler: serveDocument(projectList, (ctx) => new NotFoundError(`${ctx.repository.name} is a proxy: the upstream's full project list is not mirrored; ask for a project's page`)),
    group: () => ({ serve: 'members', merge: projectList }),
  },
  {
    method: 'GET',
    path: '/simple/*rest',
    permission: 'read',
    handler: async (ctx) => pageRedirect(ctx) ?? servePage(ctx),
    group: (ctx) => (pageRedirect(ctx) ? { serve: 'group' } : { serve: 'package', package: requestedProject(ctx), merge: simplePage }),
  },
  { method: 'GET', path: '/packages/:project/:filename', permission: 'read', handler: getFile, group: (ctx) => ({ serve: 'package', package: requestedProject(ctx) }) },
  ...['/pypi/:project/json', '/pypi/:project/:version/json'].map(
    (path): RouteDefinition => ({
      method: 'GET',
      path,
      permission: 'read',
      handler: serveDocument(jsonApi, projectNotFound),
      group: (ctx) => ({ serve: 'package', package: requestedProject(ctx), merge: jsonApi }),
    }),
  ),
  uploadRoute('/'),
  uploadRoute('/legacy/'),
  {
    method: 'GET',
    path: '/-/search',
    permission: 'read',
    handler: serveDocument(search, (ctx) => new NotFoundError(`${ctx.repository.name} is a proxy: its upstream's projects are not searchable here`)),
    group: () => ({ serve: 'members', merge: search }),
  },
  {
    method: 'POST',
    path: '/-/yank',
    permission: 'delete',
    body: { kind: 'json', limit: 64 * 1024 },
    handler: async (ctx) => {
      const target = adminTarget(ctx.body);
      const changed = await setYanked(ctx, target.project, target, target.reason ?? '');
      return jsonResponse({ yanked: changed }, { cachePolicy: 'no-store' });
    },
    group: adminPlan,
  },
  {
    method: 'POST',
    path: '/-/unyank',
    permission: 'delete',
    body: { kind: 'json', limit: 64 * 1024 },
    handler: async (ctx) => {
      const target = adminTarget(ctx.body);
      const changed = await setYanked(ctx, target.project, target, undefined);
      return jsonResponse({ unyanked: changed }, { cachePolicy: 'no-store' });
    },
    group: adminPlan,
  },
  {
    method: 'POST',
    path: '/-/delete',
    permission: 'delete',
    body: { kind: 'json', limit: 64 * 1024 },
    handler: async (ctx) => {
      const b = (ctx.body ?? {}) as AdminTarget;
      if (typeof b.project !== 'string') throw new BadRequestError('"project" is required');
      const target = b.version === undefined && b.filename === undefined ? { project: b.project } : adminTarget(ctx.body);
      const removed = await deleteFiles(ctx, target.project, target);
      return jsonResponse({ deleted: removed }, { cachePolicy: 'no-store' });
    },
    group: adminPlan,
  },
];

/** PyPI's simple index, pip's own default. */
export const PYPI_SIMPLE = 'https://pypi.org/simple/';

/** The zero-config proxy's upstream candidates: the index pip is configured with, then PyPI's. */
export async function pipDefaultUpstreams(): Promise<DefaultUpstream[]> {
  const local = await localPipIndex();
  return [...(local !== PYPI_SIMPLE ? [{ url: local, source: 'the local pip config (PIP_INDEX_URL or pip config)' }] : []), { url: PYPI_SIMPLE, source: 'PyPI' }];
}

/** The index pip is configured with (PIP_INDEX_URL, else `pip config`), else PyPI's. */
export function localPipIndex(): Promise<string> {
  const fallback = PYPI_SIMPLE;
  const asUrl = httpBaseUrl;
  const fromEnv = asUrl(process.env['PIP_INDEX_URL']);
  if (fromEnv) return Promise.resolve(fromEnv);
  return new Promise((resolve) => {
    execFile('pip', ['config', 'get', 'global.index-url'], { timeout: 10_000, windowsHide: true }, (error, stdout) => resolve((error ? undefined : asUrl(String(stdout))) ?? fallback));
  });
}

function clientConfig(repo: RepositoryInfo): string[] {
  const url = new URL(repo.url);
  const index = `${repo.url}simple/`;
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
  const trusted = url.protocol === 'http:' && !loopback ? ` --trusted-host ${url.hostname}` : '';
  const lines = [`pip install --index-url ${index}${trusted} <package>`, `pip.conf: [global] index-url = ${index}${trusted ? `  trusted-host = ${url.hostname}` : ''}`, `uv: UV_INDEX_URL=${index}`, `poetry source add --priority=primary registry-core ${index}`];
  if (repo.takesWrites) lines.push(`twine upload --repository-url ${repo.url} -u __token__ -p <token> dist/*`, `.pypirc: [registry-core] repository = ${repo.url}  username = __token__  password = <token>`);
  return lines;
}

/**
 * pip's user config (`~/.config/pip/pip.conf`), uv's (`~/.config/uv/uv.toml`: an `[[index]]`
 * named `registry-core-<repository>`, searched before PyPI, with the token in its URL when
 * given: uv reads credentials there, or from UV_INDEX_<NAME>_USERNAME/PASSWORD) and, for a
 * repository that takes uploads, twine's `~/.pypirc` and poetry's `config.toml` (a
 * `repositories.<name>` to `poetry publish -r` to) with its `auth.toml` (`http-basic.<name>`,
 * which poetry reads when no keyring holds the credentials), each with the token.
 */
function clientSettings(repo: RepositoryInfo, token: string | undefined): ClientSettingsFile[] {
  const url = new URL(repo.url);
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
  const pip: ClientSettingsFile = {
    client: 'pip',
    path: '.config/pip/pip.conf',
    syntax: 'ini',
    settings: [{ section: 'global', key: 'index-url', value: `${repo.url}simple/` }, ...(url.protocol === 'http:' && !loopback ? [{ section: 'global', key: 'trusted-host', value: url.hostname }] : [])],
  };
  const name = `registry-core-${repo.name}`;
  const index = new URL(`${repo.url}simple/`);
  if (token !== undefined) [index.username, index.password] = ['__token__', encodeURIComponent(token)];
  const uvIndex = `index[name=${name}]`;
  const uv: ClientSettingsFile = {
    client: 'uv',
    path: '.config/uv/uv.toml',
    syntax: 'toml',
    settings: [{ section: uvIndex, key: 'url', value: index.href }, ...(repo.takesWrites ? [{ section: uvIndex, key: 'publish-url', value: repo.url }] : [])],
  };
  if (!repo.takesWrites) return [pip, uv];
  const poetry: ClientSettingsFile[] = [
    { client: 'poetry', path: '.config/pypoetry/config.toml', syntax: 'toml', settings: [{ section: `repositories.${name}`, key: 'url', value: repo.url }] },
    ...(token === undefined
      ? []
      : [
          {
            client: 'poetry',
            path: '.config/pypoetry/auth.toml',
            syntax: 'toml' as const,
            settings: [
              { section: `http-basic.${name}`, key: 'username', value: '__token__' },
              { section: `http-basic.${name}`, key: 'password', value: token },
            ],
          },
        ]),
  ];
  const twine: ClientSettingsFile = {
    client: 'twine',
    path: '.pypirc',
    syntax: 'ini',
    settings: [
      { section: 'distutils', key: 'index-servers', value: name, listItem: true },
      { section: name, key: 'repository', value: repo.url },
      { section: name, key: 'username', value: '__token__' },
      ...(token ? [{ section: name, key: 'password', value: token }] : []),
    ],
  };
  return [pip, uv, twine, ...poetry];
}

export const pypiFormat: FormatDefinition = {
  downloadOf,
  id: 'pypi',
  routes,
  // PyPI answers plain text; twine shows the status line, so the message goes there too.
  errorBody: plainTextErrorBody,
  authChallenge: basicChallenge,
  clientConfig,
  clientSettings,
  defaultUpstream: pipDefaultUpstreams,
  maxMetadataBytes: MAX_PAGE_BYTES,
  // The project's simple page: what the kernel asks a group's proxies before a new project is uploaded.
  packageDocumentPath: (project) => `/simple/${encodeURIComponent(project)}/`,
  packageView: pypiPackageView,
  installLines: pypiInstallLines,
  upstreamScope(upstream: string) {
    const url = new URL(upstream);
    // A simple index at <root>/simple/ lists its files under <root>/ (…/packages/…).
    const basePath = url.pathname.replace(/simple\/?$/, '');
    // PyPI itself serves files from its file host.
    const origins = url.hostname === 'pypi.org' ? ['https://files.pythonhosted.org'] : [];
    return { basePath, origins };
  },
};
