import {
  BadRequestError,
  UnauthorizedError,
  type AccessGrant,
  type ChallengeRequest,
  type FormatDefinition,
  type FormatRequestContext,
  type FormatResponse,
  type GroupPlan,
  type HostRootContext,
  type MergeableDocument,
  type Permission,
  type ProxyCache,
  type RepositoryHandle,
  type RepositoryInfo,
  type RouteDefinition,
  serveDocument,
  type HandlersByKind,
  type LoadedDocument,
  type ClientSettingsFile,
} from '@registry-core/api';
import { gcTask, indexComponentsOnce } from './gc.js';
import {
  cancelUpload,
  catalogOf,
  deleteBlob,
  deleteManifest,
  filterReferrers,
  finishUpload,
  getBlob,
  getManifest,
  patchUpload,
  putManifest,
  referrersOf,
  startUpload,
  tagsOf,
  uploadStatus,
} from './hosted.js';
import { MAX_MANIFEST_BYTES } from './manifest.js';
import { imageName, parseDigest } from './names.js';
import { MAX_TAG_LIST_BYTES, proxyBlob, proxyManifest, proxyReferrers, proxyTags } from './proxy.js';
import { ociError, page, pageParams, rootPath, unsupported } from './responses.js';
import { downloadOf } from './downloads.js';
import { imageReference, ociInstallLines, ociPackageView } from './package-view.js';

/** Largest page of a tag list or the catalog. */
const MAX_PAGE = 10_000;
/** Lifetime of issued access tokens. */
const TOKEN_SECONDS = 300;

const API_HEADERS = { 'Docker-Distribution-API-Version': 'registry/2.0' };

function withApiHeader(response: FormatResponse): FormatResponse {
  return { ...response, headers: { ...API_HEADERS, ...response.headers } };
}

/** The image a route names, with the principal's permission on it checked. */
function image(ctx: FormatRequestContext, permission: Permission): string {
  const name = imageName(ctx.params['name']);
  ctx.authorize(permission, name);
  return name;
}


/**
 * A group's plan for a request about the route's image, checked against the principal's
 * `permission` on the group: the kernel asks the image's owner (the hosted member whose
 * component index holds it, or that the group's `routing` claims it for), else its proxies;
 * a write goes to the owner, or for a new image to the first hosted member.
 */
function imagePlan<T>(permission: Permission, merge?: MergeableDocument<T>): (ctx: FormatRequestContext) => GroupPlan<T> {
  return (ctx) => ({ serve: 'package', package: image(ctx, permission), ...(merge ? { merge } : {}) });
}

/** Serve a write (the kernel refuses it on a proxy; a group's plan sends it to a hosted member). */
function write(local: (ctx: FormatRequestContext, image: string) => Promise<FormatResponse>, permission: Permission = 'write'): (ctx: FormatRequestContext) => Promise<FormatResponse> {
  return async (ctx) => withApiHeader(await local(ctx, image(ctx, permission)));
}

/** Answer a document route on a hosted or proxy repository: render what it loads (its loaders throw the 404s). */
function serve<T>(document: MergeableDocument<T>): (ctx: FormatRequestContext) => Promise<FormatResponse> {
  return serveDocument(document, (ctx) => ociError('NAME_UNKNOWN', `${ctx.path} is unknown to ${ctx.repository.name}`, 404));
}

const manifestGet: HandlersByKind = {
  hosted: async (ctx) => withApiHeader(await getManifest(ctx, image(ctx, 'read'), String(ctx.params['reference']))),
  proxy: async (ctx, repo) => withApiHeader(await proxyManifest(ctx, repo.upstream, image(ctx, 'read'), String(ctx.params['reference']))),
};

const blobGet: HandlersByKind = {
  hosted: async (ctx) => withApiHeader(await getBlob(ctx, image(ctx, 'read'), parseDigest(String(ctx.params['digest'])))),
  proxy: async (ctx, repo) => withApiHeader(await proxyBlob(ctx, repo.upstream, image(ctx, 'read'), parseDigest(String(ctx.params['digest'])))),
};

/** An image's tags: a hosted repository's own, or the upstream's; a group's owner's or its proxies' together. */
const tagList: MergeableDocument<string[]> = {
  async hosted(ctx, repo) {
    const name = image(ctx, 'read');
    const listed = await tagsOf(repo, name);
    if (listed === undefined) throw ociError('NAME_UNKNOWN', `${name} is unknown to ${repo.name}`, 404);
    return { value: listed };
  },
  async proxy(ctx, repo) {
    const name = image(ctx, 'read');
    const listed = await proxyTags(ctx, repo.upstream, name);
    if (listed === undefined) throw ociError('NAME_UNKNOWN', `${name} is unknown to ${repo.name}`, 404);
    // With how the cache answered (STALE with the upstream down).
    return { value: listed.tags, cache: listed.cache };
  },
  merge: (lists) => [...new Set(lists.flat())],
  render(ctx, { value, cache }) {
    const name = imageName(ctx.params['name']);
    const { n, last } = pageParams(ctx.query, MAX_PAGE);
    const result = page(value, n, last, (lastTag) => `${rootPath(ctx)}${name}/tags/list?n=${n}&last=${encodeURIComponent(lastTag)}`);
    return withApiHeader({
      body: { kind: 'json', value: { name: `${ctx.hostRoot?.namePrefix ?? ''}${name}`, tags: result.items } },
      headers: result.headers,
      cachePolicy: 'no-store',
      ...(cache ? { cache } : {}),
    });
  },
};

/** The referrers of a digest (descriptors, each digest once), filtered by `artifactType` when asked. */
const referrers: MergeableDocument<Record<string, unknown>[]> = {
  hosted: async (ctx, repo) => ({ value: await referrersOf(repo, image(ctx, 'read'), parseDigest(String(ctx.params['digest']))) }),
  proxy: async (ctx, repo) => ({ value: await proxyReferrers(ctx, repo.upstream, image(ctx, 'read'), parseDigest(String(ctx.params['digest']))) }),
  merge(lists) {
    const seen = new Map<string, Record<string, unknown>>();
    for (const d of lists.flat()) if (!seen.has(String(d['digest']))) seen.set(String(d['digest']), d);
    return [...seen.values()];
  },
  // The referrers API never answers 404 for a valid request: a group nobody answers for has none.
  empty: () => [],
  render: (ctx, { value }) => withApiHeader(filterReferrers(value, ctx.query.get('artifactType'))),
};

async function readableCatalog(ctx: FormatRequestContext, repo: RepositoryHandle): Promise<LoadedDocument<string[]>> {
  ctx.authorize('read');
  return { value: (await catalogOf(repo)).filter((i) => ctx.allowed('read', i)) };
}

/** The images a repository has (a proxy: those it has fetched), less those the caller may not read. */
const catalog: MergeableDocument<string[]> = {
  hosted: (ctx, repo) => readableCatalog(ctx, repo),
  proxy: (ctx, repo) => readableCatalog(ctx, repo),
  merge: (lists) => [...new Set(lists.flat())].sort(),
  render(ctx, { value }) {
    const { n, last } = pageParams(ctx.query, MAX_PAGE);
    const visible = value.filter((i) => ctx.allowed('read', i));
    const result = page(visible, n, last, (lastName) => `${rootPath(ctx)}_catalog?n=${n}&last=${encodeURIComponent(lastName)}`);
    const prefix = ctx.hostRoot?.namePrefix ?? '';
    return withApiHeader({ body: { kind: 'json', value: { repositories: result.items.map((i) => `${prefix}${i}`) } }, headers: result.headers, cachePolicy: 'no-store' });
  },
};

/**
 * `GET /v2/_catalog` on the main port, where the first segment names no repository: the
 * `<repository>/<image>` names of every repository the caller may read (each lists what its
 * own catalog lists), sorted and paged with `n` and `last`.
 */
async function hostCatalog(ctx: HostRootContext): Promise<FormatResponse> {
  const { n, last } = pageParams(ctx.query, MAX_PAGE);
  const answers = await ctx.eachRepository('/_catalog');
  const names = answers.flatMap(({ response }) => {
    const value = response.body?.kind === 'json' ? (response.body.value as { repositories?: unknown }) : undefined;
    return Array.isArray(value?.repositories) ? value.repositories.filter((r): r is string => typeof r === 'string') : [];
  });
  const root = new URL(ctx.hostRoot.url).pathname;
  const result = page(names, n, last, (lastName) => `${root}_catalog?n=${n}&last=${encodeURIComponent(lastName)}`);
  return withApiHeader({ body: { kind: 'json', value: { repositories: result.items } }, headers: result.headers, cachePolicy: 'no-store' });
}

/** `GET /v2/`: 200 for a client with credentials (or any token); 401 with the challenge otherwise. */
async function versionCheck(ctx: FormatRequestContext): Promise<FormatResponse> {
  if (ctx.principal.via === 'anonymous') throw new UnauthorizedError('authentication required');
  return withApiHeader({ body: { kind: 'json', value: {} }, cachePolicy: 'no-store' });
}

/** The image name of `segments`, or `undefined` where it is not a valid one. */
function validImageName(segments: string | readonly string[]): string | undefined {
  try {
    return imageName(segments);
  } catch {
    return undefined;
  }
}

const ACTIONS: Record<string, readonly Permission[]> = { pull: ['read'], push: ['write'], delete: ['delete'], '*': ['read', 'write', 'delete'] };

/** Scopes `repository:<name>:<actions>` as grants; at the host root the name's first segment is the repository. */
export function scopesToGrants(scopes: readonly string[], repository: string, namePrefix: string): AccessGrant[] {
  const grants: AccessGrant[] = [];
  for (const scope of scopes.flatMap((s) => s.split(' ')).filter(Boolean).slice(0, 32)) {
    const m = /^repository(?:\([a-z0-9]+\))?:([^:]+):([a-z*,]*)$/.exec(scope);
    if (!m) continue;
    let name = m[1]!;
    let target = repository;
    if (namePrefix !== '') {
      const slash = name.indexOf('/');
      if (slash < 1) continue;
      target = name.slice(0, slash);
      name = name.slice(slash + 1);
    }
    const imageNameChecked = validImageName(name.split('/'));
    if (imageNameChecked === undefined) continue;
    const actions = [...new Set(m[2]!.split(',').flatMap((a) => ACTIONS[a] ?? []))];
    if (actions.length) grants.push({ repository: target, package: imageNameChecked, actions });
  }
  return grants;
}

/** Back to OCI scope syntax, as the token answer and the audit show it. */
function grantsToScopes(grants: readonly AccessGrant[], namePrefix: string): string[] {
  const names: Record<Permission, string> = { read: 'pull', write: 'push', delete: 'delete', admin: '*' };
  return grants.map((g) => `repository:${namePrefix ? `${g.repository}/` : ''}${g.package}:${g.actions.map((a) => names[a]).join(',')}`);
}

/** The token endpoint of the Bearer flow (`GET <realm>?service=&scope=`). */
async function token(ctx: FormatRequestContext): Promise<FormatResponse> {
  const prefix = ctx.hostRoot?.namePrefix ?? '';
  const requested = scopesToGrants(ctx.query.getAll('scope'), ctx.repository.name, prefix);
  const issued = await ctx.auth.issueAccessToken(requested, TOKEN_SECONDS);
  return {
    body: {
      kind: 'json',
      value: { token: issued.token, access_token: issued.token, expires_in: issued.expiresIn, issued_at: issued.issuedAt.toISOString(), scope: grantsToScopes(issued.granted, prefix).join(' ') },
    },
    cachePolicy: 'no-store',
  };
}

/** Deletes refused where `allowDelete: false` (a group's own setting holds for deletes through it too). */
function refuseDeletes(ctx: FormatRequestContext): void {
  if (ctx.repository.config['allowDelete'] === false) throw unsupported(`deletes are disabled in ${ctx.repository.name}`);
}

/** A delete route: refused where deletes are off, else served by `handler` on a hosted repository. */
function deleteRoute(path: string, handler: (ctx: FormatRequestContext, name: string) => Promise<FormatResponse>): RouteDefinition {
  const plan = imagePlan('delete');
  return {
    method: 'DELETE',
    path,
    permission: 'delete',
    handler: async (ctx) => {
      refuseDeletes(ctx);
      return write(handler, 'delete')(ctx);
    },
    group: (ctx) => {
      refuseDeletes(ctx);
      return plan(ctx);
    },
  };
}

const uploadId = (ctx: FormatRequestContext) => String(ctx.params['id'] ?? '');

/** The version check and the token endpoint answer on the group itself; the rest by plans. */
const onGroup = (): GroupPlan => ({ serve: 'group' });

export const routes: readonly RouteDefinition[] = [
  { method: 'GET', path: '/v2{/}', permission: 'none', handler: versionCheck, group: onGroup },
  { method: 'GET', path: '/v2/token', permission: 'none', handler: token, group: onGroup },
  { method: 'GET', path: '/v2/_catalog', permission: 'read', handler: serve(catalog), group: () => ({ serve: 'members', merge: catalog }) },
  { method: 'GET', path: '/v2/*name/tags/list', permission: 'read', handler: serve(tagList), group: imagePlan('read', tagList) },
  {
    method: 'GET',
    path: '/v2/*name/referrers/:digest',
    permission: 'read',
    handler: serve(referrers),
    group: (ctx) => {
      parseDigest(String(ctx.params['digest']));
      return imagePlan('read', referrers)(ctx);
    },
  },
  { method: 'GET', path: '/v2/*name/manifests/:reference', permission: 'read', handler: manifestGet, group: imagePlan('read') },
  {
    method: 'PUT',
    path: '/v2/*name/manifests/:reference',
    permission: 'write',
    body: { kind: 'stream', limit: MAX_MANIFEST_BYTES },
    handler: write((ctx, name) => putManifest(ctx, name, String(ctx.params['reference']))),
    group: imagePlan('write'),
  },
  deleteRoute('/v2/*name/manifests/:reference', (ctx, name) => deleteManifest(ctx, name, String(ctx.params['reference']))),
  { method: 'POST', path: '/v2/*name/blobs/uploads{/}', permission: 'write', body: { kind: 'stream' }, handler: write(startUpload), group: imagePlan('write') },
  { method: 'GET', path: '/v2/*name/blobs/uploads/:id', permission: 'write', handler: write((ctx, name) => uploadStatus(ctx, name, uploadId(ctx))), group: imagePlan('write') },
  { method: 'PATCH', path: '/v2/*name/blobs/uploads/:id', permission: 'write', body: { kind: 'stream' }, handler: write((ctx, name) => patchUpload(ctx, name, uploadId(ctx))), group: imagePlan('write') },
  { method: 'PUT', path: '/v2/*name/blobs/uploads/:id', permission: 'write', body: { kind: 'stream' }, handler: write((ctx, name) => finishUpload(ctx, name, uploadId(ctx))), group: imagePlan('write') },
  { method: 'DELETE', path: '/v2/*name/blobs/uploads/:id', permission: 'write', handler: write((ctx, name) => cancelUpload(ctx, name, uploadId(ctx))), group: imagePlan('write') },
  {
    method: 'GET',
    path: '/v2/*name/blobs/:digest',
    permission: 'read',
    handler: blobGet,
    // A HEAD of a blob is how a push asks whether to upload it: a proxy that cannot be asked
    // must not fail the push (the blob is uploaded). A GET (a pull) still answers the 502.
    group: (ctx) => ({ ...imagePlan('read')(ctx), ...(ctx.method === 'HEAD' ? { unreachableIsMissing: true } : {}) }),
  },
  deleteRoute('/v2/*name/blobs/:digest', (ctx, name) => deleteBlob(ctx, name, parseDigest(String(ctx.params['digest'])))),
];

/** Kernel codes in OCI's vocabulary. */
const CODES: Record<string, string> = {
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'DENIED',
  NOT_FOUND: 'NAME_UNKNOWN',
  REPOSITORY_UNKNOWN: 'NAME_UNKNOWN',
  METHOD_NOT_ALLOWED: 'UNSUPPORTED',
  PAYLOAD_TOO_LARGE: 'SIZE_INVALID',
  INTEGRITY_MISMATCH: 'DIGEST_INVALID',
  TOO_MANY_REQUESTS: 'TOOMANYREQUESTS',
  BAD_REQUEST: 'UNSUPPORTED',
  INVALID_NAME: 'NAME_INVALID',
  CONFLICT: 'UNSUPPORTED',
  UPLOAD_UNKNOWN: 'BLOB_UPLOAD_UNKNOWN',
  RANGE_NOT_SATISFIABLE: 'BLOB_UPLOAD_INVALID',
};

const OCI_CODES = new Set([
  'BLOB_UNKNOWN', 'BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN', 'DIGEST_INVALID', 'MANIFEST_BLOB_UNKNOWN', 'MANIFEST_INVALID', 'MANIFEST_UNKNOWN',
  'NAME_INVALID', 'NAME_UNKNOWN', 'SIZE_INVALID', 'UNAUTHORIZED', 'DENIED', 'UNSUPPORTED', 'TOOMANYREQUESTS', 'TAG_INVALID', 'PAGINATION_NUMBER_INVALID',
]);

function errorBody(error: { status: number; code: string; message: string }) {
  const code = OCI_CODES.has(error.code) ? error.code : (CODES[error.code] ?? (error.status >= 500 ? 'UNKNOWN' : 'UNSUPPORTED'));
  return { contentType: 'application/json', body: JSON.stringify({ errors: [{ code, message: error.message, detail: {} }] }) };
}

/** The token realm for a client: beside the protocol root it used. */
function realmFor(repository: RepositoryInfo, hostRoot: ChallengeRequest['hostRoot']): string {
  if (!hostRoot) return `${repository.url}v2/token`;
  // At the bare host root the repository is not in the URL: name it in the realm.
  if (hostRoot.namePrefix === '' && hostRoot.url !== `${repository.url}v2/` && !hostRoot.url.endsWith(`/${repository.name}/v2/`)) {
    return `${hostRoot.url}${repository.name}/token`;
  }
  return `${hostRoot.url}token`;
}

function authChallenge(repository: RepositoryInfo, request?: ChallengeRequest): string {
  const realm = realmFor(repository, request?.hostRoot);
  const service = new URL(realm).host;
  const name = request?.params['name'];
  let scope = '';
  // Only a valid image name goes into the header: a NUL or a line break in it would make the
  // answer unsendable (a 500), and no token can be had for an invalid name anyway.
  const scoped = name === undefined ? undefined : validImageName(name);
  if (scoped !== undefined) {
    const actions = request!.permission === 'read' ? 'pull' : request!.permission === 'delete' ? 'delete' : 'pull,push';
    scope = `,scope="repository:${request?.hostRoot?.namePrefix ?? ''}${scoped}:${actions}"`;
  }
  return `Bearer realm="${realm}",service="${service}"${scope}`;
}

function clientConfig(repository: RepositoryInfo): string[] {
  const url = new URL(repository.url);
  const port = repository.config['port'];
  const hostPort = url.host;
  const ref = imageReference(repository, '<image>');
  const lines = [`docker pull ${ref}:<tag>   (podman/skopeo: add --tls-verify=false over plain HTTP)`];
  if (repository.takesWrites) lines.push(`docker push ${ref}:<tag>   (docker login ${hostPort} first)`);
  if (typeof port === 'number' && repository.reachesUpstream) lines.push(`Docker daemon.json: "registry-mirrors": ["${url.protocol}//${hostPort}"]`);
  return lines;
}

/**
 * Docker's `~/.docker/config.json` and podman's `~/.config/containers/auth.json` (what podman,
 * skopeo and buildah read when `$XDG_RUNTIME_DIR/containers/auth.json`, their login's
 * per-session file, holds nothing for the host), each with `auths[host].auth` = base64 of
 * `__token__:<token>`. Only with a token: without one there is nothing to write.
 */
function clientSettings(repository: RepositoryInfo, token: string | undefined): ClientSettingsFile[] {
  if (token === undefined) return [];
  const settings = [{ section: `auths/${new URL(repository.url).host}`, key: 'auth', value: Buffer.from(`__token__:${token}`).toString('base64') }];
  return [
    { client: 'docker', path: '.docker/config.json', syntax: 'json', settings },
    { client: 'podman', path: '.config/containers/auth.json', syntax: 'json', settings },
  ];
}

export const ociFormat: FormatDefinition = {
  downloadOf,
  id: 'oci',
  routes,
  hostRoot: { prefix: '/v2', hostRoutes: [{ method: 'GET', path: '/_catalog', handler: hostCatalog }] },
  errorBody,
  authChallenge,
  clientConfig,
  clientSettings,
  packageView: ociPackageView,
  installLines: ociInstallLines,
  maxMetadataBytes: MAX_TAG_LIST_BYTES,
  tasks: [gcTask],
  async onRepositoryReady(repository) {
    // Groups find an image's owner in its hosted members' component indexes.
    if (repository.type === 'hosted') await indexComponentsOnce(repository);
  },
  defaultUpstream: () => 'https://registry-1.docker.io/',
  upstreamScope(upstream) {
    // Docker Hub hands out tokens from its auth host and serves blobs from a CDN.
    const host = new URL(upstream).hostname;
    return host === 'registry-1.docker.io' ? { origins: ['https://auth.docker.io', 'https://production.cloudflare.docker.com'] } : {};
  },
};
