import {
  BadRequestError,
  MethodNotAllowedError,
  NotFoundError,
  jsonResponse,
  serveDocument,
  type FormatDefinition,
  type FormatRequestContext,
  type GroupPlan,
  type MergeableDocument,
  type RepositoryInfo,
  type RouteDefinition,
} from '@registry-core/api';
import semver from 'semver';
import { couchLogin, logout, userProfile, webLogin, whoami } from './account.js';
import { MAX_AUDIT_BYTES, audit } from './audit.js';
import { authChallenge, clientConfig, clientSettings, localNpmRegistry, npmDefaultUpstreams } from './client-config.js';
import { npmInstallLines, npmPackageView } from './package-view.js';
import { encodedName, parseName, type PackageName } from './names.js';
import { wantsAbbreviated, type Packument } from './packument.js';
import { checkEncodedSlashes, parseNpmPath } from './paths.js';
import { changeDistTag, deleteTarball, publish, unpublishPackage, updateDocument } from './publish.js';
import { MAX_PACKUMENT_BYTES, type PackumentSource, distTagsResponse, getHostedTarball, getUpstreamTarball, packumentDocument, packumentResponse, versionResponse } from './reads.js';
import { parseSearchQuery, search, searchDocument } from './search.js';
import { createToken, listTokens, revokeToken } from './tokens.js';
import { downloadOf } from './downloads.js';

/** Strings longer than this in a publish body go to disk, not memory (the base64 tarball). */
const SPILL_OVER = 256 * 1024;

function segments(ctx: FormatRequestContext): string[] {
  const rest = ctx.params['rest'];
  return Array.isArray(rest) ? [...rest] : typeof rest === 'string' ? [rest] : [];
}

/**
 * `/-/package/<name>/dist-tags[/<tag>]`, the name's scope slash encoded or not. Exported
 * for tests.
 */
export function parseDistTagPath(parts: readonly string[], rawPath?: string): { name: PackageName; tag?: string } {
  if (rawPath !== undefined) checkEncodedSlashes(rawPath.replace(/^\/-\/package/, ''));
  const flat = parts.flatMap((s) => s.split('/'));
  const at = flat[0]?.startsWith('@') ? 2 : 1;
  if (flat[at] !== 'dist-tags' || flat.length > at + 2 || flat.some((p) => p === '')) throw new NotFoundError('not found');
  return { name: parseName(flat.slice(0, at).join('/')), tag: flat[at + 1] };
}

/** The npm path of a catch-all route, parsed (names validated, encoded slashes checked). */
function target(ctx: FormatRequestContext) {
  return parseNpmPath(segments(ctx), ctx.path);
}

/** The package a catch-all read names: its document, one of its versions, or one of its tarballs. */
function readTarget(ctx: FormatRequestContext) {
  const path = target(ctx);
  if (path.kind !== 'packument' && path.kind !== 'version' && path.kind !== 'tarball') throw new NotFoundError('not found');
  return path;
}

/** `GET /<name>` and `GET /<name>/<version | tag | range>`, from the (group's: merged) document. */
const packumentRead = packumentDocument(
  (ctx) => readTarget(ctx).name,
  (ctx, loaded) => {
    const path = readTarget(ctx);
    return path.kind === 'version' ? versionResponse(ctx, path.name, path.spec, loaded) : packumentResponse(ctx, loaded);
  },
  // An installer's read of a proxy takes the upstream's abbreviated document; a version's
  // document (`/<name>/<version>`) is the full one's.
  (ctx) => (readTarget(ctx).kind === 'packument' && wantsAbbreviated(ctx.headers['accept']) ? 'abbreviated' : 'full'),
);

const servePackument = serveDocument(packumentRead, (ctx) => notIn(ctx, readTarget(ctx).name));

/** The name of `GET /-/package/<name>/dist-tags` (a single tag is not readable: 404). */
function distTagsName(ctx: FormatRequestContext): PackageName {
  const { name, tag } = parseDistTagPath(segments(ctx), ctx.path);
  if (tag !== undefined) throw new NotFoundError('not found');
  return name;
}

// The dist-tags are the same in both documents: the smaller is read.
const distTagsRead = packumentDocument(distTagsName, (_ctx, loaded) => distTagsResponse(loaded), () => 'abbreviated');

const notIn = (ctx: FormatRequestContext, name: PackageName) => new NotFoundError(`${name.name} is not in ${ctx.repository.name}`);

/**
 * A group's plan for a read of one package: the kernel serves it from the name's owner,
 * or from the proxies when no hosted member holds it (their documents merged with
 * `merge`). The group's own name-level read rules apply first; each member checks its own.
 */
function readPlan(ctx: FormatRequestContext, name: PackageName, merge?: MergeableDocument<PackumentSource>): GroupPlan {
  ctx.authorize('read', name.name);
  return merge ? { serve: 'package', package: name.name, merge } : { serve: 'package', package: name.name };
}

/** A group's plan for a write: the kernel sends it to the name's owner, or for a new name to the first hosted member. */
function writePlan(name: PackageName): GroupPlan {
  return { serve: 'package', package: name.name };
}

/** The dist-tag a write route changes (`PUT|DELETE /-/package/<name>/dist-tags/<tag>`). */
function distTagWrite(ctx: FormatRequestContext): { name: PackageName; tag: string } {
  const { name, tag } = parseDistTagPath(segments(ctx), ctx.path);
  if (tag === undefined) throw new MethodNotAllowedError('name a dist-tag: /-/package/<name>/dist-tags/<tag>');
  return { name, tag };
}

/** The package of a catch-all write, or a 405 for a path no write goes to. */
function writeTarget(ctx: FormatRequestContext) {
  const path = target(ctx);
  if (ctx.method === 'PUT' && (path.kind === 'packument' || path.kind === 'revision')) return path;
  if (ctx.method === 'DELETE' && (path.kind === 'tarball-revision' || path.kind === 'revision')) return path;
  throw new MethodNotAllowedError(`${ctx.method} is not supported on ${ctx.path.slice(0, 200)}`);
}

const routes: RouteDefinition[] = [
  // Account and token routes run on the group itself (the default plan): logins are the registry's.
  { method: 'GET', path: '/-/ping', permission: 'read', handler: async () => jsonResponse({}, { cachePolicy: 'no-store' }) },
  { method: 'GET', path: '/-/whoami', permission: 'none', handler: whoami },
  { method: 'POST', path: '/-/v1/login', permission: 'none', handler: webLogin },
  { method: 'GET', path: '/-/user/:id', permission: 'read', handler: userProfile },
  // A login is judged by the name and password in its body, whatever token .npmrc still holds.
  { method: 'PUT', path: '/-/user/:id', permission: 'none', credentials: 'body', body: { kind: 'json', limit: 64 * 1024 }, handler: couchLogin },
  { method: 'DELETE', path: '/-/user/token/:token', permission: 'none', handler: logout },
  { method: 'POST', path: '/-/npm/v1/tokens', permission: 'none', body: { kind: 'json', limit: 64 * 1024 }, handler: createToken },
  { method: 'GET', path: '/-/npm/v1/tokens', permission: 'none', handler: listTokens },
  { method: 'DELETE', path: '/-/npm/v1/tokens/token/:key', permission: 'none', handler: revokeToken },
  {
    method: 'GET',
    path: '/-/v1/search',
    permission: 'read',
    handler: search,
    group(ctx) {
      // A bad query is refused once, by the group, rather than by every member.
      parseSearchQuery(ctx.query, ctx.repository.limits.maxSearchResults);
      return { serve: 'members', merge: searchDocument };
    },
  },
  {
    method: 'GET',
    path: '/-/package/*rest',
    permission: 'read',
    handler: serveDocument(distTagsRead, (ctx) => notIn(ctx, distTagsName(ctx))),
    group: (ctx) => readPlan(ctx, distTagsName(ctx), distTagsRead),
  },
  {
    method: ['PUT', 'DELETE'],
    path: '/-/package/*rest',
    permission: 'write',
    body: { kind: 'json', limit: 4096 },
    handler: async (ctx) => {
      const { name, tag } = distTagWrite(ctx);
      if (ctx.method === 'DELETE') return changeDistTag(ctx, name, tag, undefined);
      const version = ctx.body;
      if (typeof version !== 'string' || semver.valid(version) !== version) throw new BadRequestError('the body must be a JSON string holding a version, e.g. "1.0.0"', 'INVALID_VERSION');
      return changeDistTag(ctx, name, tag, version);
    },
    group: (ctx) => writePlan(distTagWrite(ctx).name),
  },
  // Only an upstream knows advisories: a group asks its first proxy member, and fails without one.
  { method: 'POST', path: '/-/npm/v1/security/advisories/bulk', permission: 'read', body: { kind: 'stream', limit: MAX_AUDIT_BYTES }, handler: audit, group: () => ({ serve: 'upstream' }) },
  { method: 'POST', path: '/-/npm/v1/security/audits/quick', permission: 'read', body: { kind: 'stream', limit: MAX_AUDIT_BYTES }, handler: audit, group: () => ({ serve: 'upstream' }) },
  {
    method: 'GET',
    path: '/*rest',
    permission: 'read',
    handler: {
      async hosted(ctx, repo) {
        const path = readTarget(ctx);
        return path.kind === 'tarball' ? getHostedTarball(ctx, repo, path.name, path.file) : servePackument(ctx);
      },
      async proxy(ctx, repo) {
        const path = readTarget(ctx);
        return path.kind === 'tarball' ? getUpstreamTarball(ctx, repo, path.name, path.file) : servePackument(ctx);
      },
    },
    group(ctx) {
      const path = readTarget(ctx);
      // A tarball comes whole from the first candidate that has it; documents merge.
      return path.kind === 'tarball' ? readPlan(ctx, path.name) : readPlan(ctx, path.name, packumentRead);
    },
  },
  {
    method: 'PUT',
    path: '/*rest',
    permission: 'write',
    body: { kind: 'json', spillStringsOver: SPILL_OVER },
    handler: async (ctx) => {
      const path = writeTarget(ctx);
      if (path.kind === 'revision') return updateDocument(ctx, path.name, path.rev);
      // Some clients send a document update (deprecate, star) to the package URL itself: no attachments, a _rev.
      const body = ctx.body as { _attachments?: unknown; _rev?: unknown } | undefined;
      const attachments = body?._attachments;
      const hasAttachments = !!attachments && typeof attachments === 'object' && Object.keys(attachments).length > 0;
      if (!hasAttachments && typeof body?._rev === 'string') return updateDocument(ctx, path.name, body._rev);
      return publish(ctx, path.name);
    },
    group: (ctx) => writePlan(writeTarget(ctx).name),
  },
  {
    method: 'DELETE',
    path: '/*rest',
    permission: 'delete',
    handler: async (ctx) => {
      const path = writeTarget(ctx);
      if (path.kind === 'tarball-revision') return deleteTarball(ctx, path.name, path.file);
      return unpublishPackage(ctx, path.name);
    },
    group: (ctx) => writePlan(writeTarget(ctx).name),
  },
];

export const npmFormat: FormatDefinition = {
  downloadOf,
  id: 'npm',
  routes,
  errorBody: (error) => ({ contentType: 'application/json; charset=utf-8', body: JSON.stringify({ error: error.message, code: error.code }) }),
  authChallenge,
  clientConfig,
  clientSettings,
  defaultUpstream: npmDefaultUpstreams,
  maxMetadataBytes: MAX_PACKUMENT_BYTES,
  // The packument: what the kernel asks a group's proxies before a new name is published.
  packageDocumentPath: (name) => `/${encodedName(parseName(name))}`,
  packageView: npmPackageView,
  installLines: npmInstallLines,
};

export { localNpmRegistry, npmDefaultUpstreams };
