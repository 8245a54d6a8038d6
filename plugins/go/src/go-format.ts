import { execFile } from 'node:child_process';
import { openAsBlob } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  NotFoundError,
  assetResponse,
  basicChallenge,
  httpBaseUrl,
  jsonResponse,
  plainTextErrorBody,
  serveDocument,
  type HandlersByKind,
  type HostedRepositoryHandle,
  type DefaultUpstream,
  type FormatCommand,
  type FormatDefinition,
  type FormatRequestContext,
  type FormatResponse,
  type GroupPlan,
  type MergeableDocument,
  type ClientSettingsFile,
  type RepositoryInfo,
  type RouteDefinition,
  type CacheStatus,
  type ProxyRepositoryHandle,
} from '@registry-core/api';
import { confirmSidecar, infoOf, type HostedModule, listedVersions, loadHostedModule, publishZip, versionAssetPath } from './hosted.js';
import { escapeCase, parseModuleRequest, type ModuleRequest } from './module-path.js';
import { serveUpstreamZip, upstreamLatest, upstreamList, upstreamQuery, upstreamVersionFile, type VersionInfo } from './proxy.js';
import { compareVersions, latestVersion } from './semver.js';
import { sumdb } from './sumdb.js';
import { validateSumCheck } from './sumcheck.js';
import { createModuleZip } from './module-zip-create.js';
import { downloadOf } from './downloads.js';
import { goInstallLines, goPackageView } from './package-view.js';

const TEXT = 'text/plain; charset=utf-8';

const notFound = (ctx: FormatRequestContext, what: string) => new NotFoundError(`${what}: not found in ${ctx.repository.name}`);

/** The module a request names, once the caller may read it. */
function readableModule(ctx: FormatRequestContext): string {
  const { module } = parseModuleRequest(ctx.path);
  ctx.authorize('read', module);
  return module;
}

/**
 * A module's document as one repository serves it: from a hosted repository's module
 * document, or from a proxy's upstream (with its cache status).
 */
function moduleLoaders<T>(
  fromHosted: (module: HostedModule) => T | undefined,
  fromProxy: (repo: ProxyRepositoryHandle, module: string) => Promise<{ value: T; cache: CacheStatus } | undefined>,
): Pick<MergeableDocument<T>, 'hosted' | 'proxy'> {
  return {
    async hosted(ctx, repo) {
      const stored = await loadHostedModule(repo, readableModule(ctx));
      const value = stored ? fromHosted(stored.value) : undefined;
      return value !== undefined ? { value, revision: `${stored!.revision}` } : undefined;
    },
    proxy: (ctx, repo) => fromProxy(repo, readableModule(ctx)),
  };
}

/** `<module>/@v/list`: the tagged versions, merged across a group's members. */
const versionList: MergeableDocument<string[]> = {
  ...moduleLoaders(listedVersions, async (repo, module) => {
    const listed = await upstreamList(repo, module);
    return listed && { value: listed.versions, cache: listed.cache };
  }),
  merge: (lists) => [...new Set(lists.flat())],
  render: (_ctx, { value, cache }) => ({
    ...(cache ? { cache } : {}),
    body: { kind: 'text', value: [...value].sort(compareVersions).map((v) => `${v}\n`).join(''), contentType: TEXT },
  }),
};

/** `<module>/@latest`: the highest version by the go command's rules, across a group's members. */
const latest: MergeableDocument<VersionInfo> = {
  ...moduleLoaders(
    (module) => {
      const version = latestVersion(Object.keys(module.versions));
      return version ? infoOf(version, module.versions[version]!) : undefined;
    },
    async (repo, module) => {
      const answered = await upstreamLatest(repo, module);
      return answered && { value: answered.info, cache: answered.cache };
    },
  ),
  merge(infos) {
    const best = latestVersion(infos.map((i) => i.Version));
    return infos.find((i) => i.Version === best) ?? infos[0]!;
  },
  render: (_ctx, { value, cache }) => jsonResponse(value, { ...(cache ? { cache } : {}) }),
};

const serveList = serveDocument(versionList, (ctx) => notFound(ctx, `${parseModuleRequest(ctx.path).module} @v/list`));
const serveLatest = serveDocument(latest, (ctx) => notFound(ctx, `${parseModuleRequest(ctx.path).module} @latest`));

type VersionRequest = Extract<ModuleRequest, { version: string }>;

/** `.info`, `.mod`, `.zip` of one version on a hosted repository. */
async function hostedVersionFile(ctx: FormatRequestContext, repo: HostedRepositoryHandle, { module, version, kind }: VersionRequest): Promise<FormatResponse> {
  ctx.authorize('read', module);
  const what = `${module}@${version} .${kind}`;
  if (kind === 'info') {
    const entry = (await loadHostedModule(repo, module))?.value.versions[version];
    if (!entry) throw notFound(ctx, what);
    return jsonResponse(infoOf(version, entry), { cachePolicy: 'immutable' });
  }
  const asset = await repo.assets.get(versionAssetPath(module, version, kind));
  if (!asset) throw notFound(ctx, what);
  return assetResponse(asset);
}

/** `.info`, `.mod`, `.zip` of one version on a proxy, from its upstream (checked against the checksum database). */
async function proxyVersionFile(ctx: FormatRequestContext, repo: ProxyRepositoryHandle, { module, version, kind }: VersionRequest): Promise<FormatResponse> {
  ctx.authorize('read', module);
  const what = `${module}@${version} .${kind}`;
  if (kind === 'zip') {
    const served = await serveUpstreamZip(repo, ctx.logger, module, version);
    if (!served.found) throw notFound(ctx, what);
    return { body: served.body, cache: served.cache };
  }
  const fetched = await upstreamVersionFile(repo, ctx.logger, module, version, kind);
  if (!fetched) throw notFound(ctx, what);
  return assetResponse(fetched.asset, { cache: fetched.cache });
}

/** `@v/<branch or commit>.info` on a proxy: its upstream resolves it. */
async function resolveQuery(ctx: FormatRequestContext, repo: ProxyRepositoryHandle, module: string, query: string): Promise<FormatResponse> {
  ctx.authorize('read', module);
  const answered = await upstreamQuery(repo, module, query);
  if (!answered) throw notFound(ctx, `${module}@${query}`);
  return jsonResponse(answered.info, { cache: answered.cache });
}

const get: HandlersByKind = {
  async hosted(ctx, repo) {
    const request = parseModuleRequest(ctx.path);
    if (request.kind === 'list') return serveList(ctx);
    if (request.kind === 'latest') return serveLatest(ctx);
    // Hosted repositories hold versions only: a branch or commit is not among them.
    if (request.kind === 'query') throw notFound(ctx, `${request.module}@${request.query}`);
    return hostedVersionFile(ctx, repo, request);
  },
  async proxy(ctx, repo) {
    const request = parseModuleRequest(ctx.path);
    if (request.kind === 'list') return serveList(ctx);
    if (request.kind === 'latest') return serveLatest(ctx);
    if (request.kind === 'query') return resolveQuery(ctx, repo, request.module, request.query);
    return proxyVersionFile(ctx, repo, request);
  },
};

function getPlan(ctx: FormatRequestContext): GroupPlan {
  const request = parseModuleRequest(ctx.path);
  if (request.kind === 'list') return { serve: 'package', package: request.module, merge: versionList as MergeableDocument<unknown> };
  if (request.kind === 'latest') return { serve: 'package', package: request.module, merge: latest as MergeableDocument<unknown> };
  return { serve: 'package', package: request.module };
}

/** `PUT <module>/@v/<version>.zip` publishes; `.mod` and `.info` beside it are checked against it. */
async function put(ctx: FormatRequestContext, repo: HostedRepositoryHandle): Promise<FormatResponse> {
  const request = parseModuleRequest(ctx.path, { write: true });
  if (request.kind === 'list' || request.kind === 'latest' || request.kind === 'query') throw new NotFoundError('PUT <module>/@v/<version>.zip to publish a version');
  if (request.kind === 'zip') {
    const entry = await publishZip(ctx, repo, request.module, request.version);
    return { status: 201, body: { kind: 'text', value: `${request.module} ${request.version} ${entry.h1}\n${request.module} ${request.version}/go.mod ${entry.goModH1}\n`, contentType: TEXT }, cachePolicy: 'no-store' };
  }
  await confirmSidecar(ctx, request.module, request.version, request.kind);
  return { status: 200, body: { kind: 'text', value: 'OK\n', contentType: TEXT }, cachePolicy: 'no-store' };
}

function putPlan(ctx: FormatRequestContext): GroupPlan {
  return { serve: 'package', package: parseModuleRequest(ctx.path, { write: true }).module };
}

const routes: RouteDefinition[] = [
  // No module path starts with `sumdb/` (a module path's first element has a dot).
  { method: 'GET', path: '/sumdb/*rest', permission: 'read', handler: { proxy: sumdb }, group: () => ({ serve: 'upstream' }) },
  { method: 'GET', path: '/*rest', permission: 'read', handler: get, group: getPlan },
  { method: 'PUT', path: '/*rest', permission: 'write', body: { kind: 'stream' }, handler: { hosted: put }, group: putPlan },
];

/** The public module proxy, the go command's own default. */
export const PUBLIC_GOPROXY = 'https://proxy.golang.org/';

/** The first http(s) proxy of a GOPROXY list (`https://a,https://b|direct`). */
export function firstProxy(goproxy: string | undefined): string | undefined {
  for (const entry of (goproxy ?? '').split(/[,|]/)) {
    const url = httpBaseUrl(entry);
    if (url) return url;
  }
  return undefined;
}

/** The zero-config proxy's upstream candidates: the proxy the go command is configured with, then the public one. */
export async function goDefaultUpstreams(): Promise<DefaultUpstream[]> {
  const fromEnv = firstProxy(process.env['GOPROXY']);
  const configured =
    fromEnv ??
    (await new Promise<string | undefined>((resolve) => {
      execFile('go', ['env', 'GOPROXY'], { timeout: 10_000, windowsHide: true }, (error, stdout) => resolve(error ? undefined : firstProxy(String(stdout).trim())));
    }));
  const local = configured && configured !== PUBLIC_GOPROXY ? [{ url: configured, source: fromEnv ? 'GOPROXY' : 'go env GOPROXY' }] : [];
  return [...local, { url: PUBLIC_GOPROXY, source: 'the public Go module proxy' }];
}

function clientConfig(repo: RepositoryInfo): string[] {
  const lines = [`export GOPROXY=${repo.url},direct`];
  if (repo.takesWrites) {
    lines.push(
      'export GONOSUMDB=<your module prefix, e.g. corp.example.com>   (hosted modules are not in the public checksum database)',
      `publish: curl --fail -u <user>:<token> -T module.zip ${repo.url}<module>/@v/<version>.zip   (a zip with <module>@<version>/ prefixes, as the go command makes)`,
    );
  }
  lines.push(`~/.netrc (when reads need a login): machine ${new URL(repo.url).hostname} login <user> password <token>`);
  return lines;
}

/**
 * The go command's user environment file (`~/.config/go/env`, what `go env -w` writes): GOPROXY
 * at the repository, then `direct` as the start lines say; with a token and HTTPS, the token
 * in the proxy URL (as `__token__`'s password), which the go command sends as Basic
 * credentials. Over plain HTTP the go command sends no credentials at all (it refuses them
 * in a URL and reads ~/.netrc for HTTPS only): the file then names the URL alone.
 */
function clientSettings(repo: RepositoryInfo, token: string | undefined): ClientSettingsFile[] {
  const url = new URL(repo.url);
  if (token && url.protocol === 'https:') {
    url.username = '__token__';
    url.password = token;
  }
  return [{ client: 'go', path: '.config/go/env', syntax: 'ini', settings: [{ key: 'GOPROXY', value: `${url.href},direct` }] }];
}

/**
 * `registry-core go publish <dir> --version vX.Y.Z --repository NAME`: the module zip of a
 * folder, made as the go command makes one, PUT to a hosted repository (or a group).
 */
const publishCommand: FormatCommand = {
  name: 'publish',
  description: 'build the module zip of a folder as the go command would and publish it',
  arguments: ['dir'],
  options: [
    { name: 'version', description: 'the version to publish (vX.Y.Z)', required: true },
    { name: 'module', description: 'the module path, for a folder without go.mod' },
  ],
  async run({ args, options, repositoryUrl, authorization, print }) {
    const dir = await mkdtemp(path.join(tmpdir(), 'rc-go-publish-'));
    try {
      const zip = path.join(dir, 'module.zip');
      const version = options['version']!;
      const made = await createModuleZip(path.resolve(args['dir']!), version, zip, options['module'] ? { module: options['module'] } : {});
      for (const line of made.omitted) print(`left out: ${line}`);
      const url = `${repositoryUrl}${escapeCase(made.module)}/@v/${escapeCase(version)}.zip`;
      const answer = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/zip', ...(authorization ? { authorization } : {}) }, body: await openAsBlob(zip) });
      const text = (await answer.text()).trim();
      if (!answer.ok) throw new Error(`PUT ${url}: ${answer.status} ${text}`);
      print(`published ${made.module}@${version} (${made.files} files, ${made.bytes} bytes) to ${repositoryUrl}`);
      print(text);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};

export const goFormat: FormatDefinition = {
  downloadOf,
  id: 'go',
  routes,
  commands: [publishCommand],
  // The go command prints an error answer's body: plain text with the reason.
  errorBody: plainTextErrorBody,
  authChallenge: basicChallenge,
  clientConfig,
  clientSettings,
  packageView: goPackageView,
  installLines: goInstallLines,
  defaultUpstream: goDefaultUpstreams,
  validateRepository: validateSumCheck,
  // What the kernel asks a group's proxies before a module new to a hosted repository is published.
  packageDocumentPath: (module) => `/${escapeCase(module)}/@v/list`,
};
