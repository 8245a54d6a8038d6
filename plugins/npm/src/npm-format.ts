import {
  BadRequestError,
  MethodNotAllowedError,
  NotFoundError,
  jsonResponse,
  type FormatDefinition,
  type FormatRequestContext,
  type FormatResponse,
  type RepositoryInfo,
  type RouteDefinition,
} from '@registry-core/api';
import semver from 'semver';
import { couchLogin, logout, webLogin, whoami } from './account.js';
import { MAX_AUDIT_BYTES, audit } from './audit.js';
import { authChallenge, clientConfig, localNpmRegistry } from './client-config.js';
import { parseName, type PackageName } from './names.js';
import { checkEncodedSlashes, parseNpmPath } from './paths.js';
import { changeDistTag, deleteTarball, publish, unpublishPackage, updateDocument } from './publish.js';
import { getDistTags, getPackument, getTarball, getVersion } from './reads.js';
import { search } from './search.js';
import { createToken, listTokens, revokeToken } from './tokens.js';

/** Strings longer than this in a publish body go to disk, not memory (the base64 tarball). */
const SPILL_OVER = 256 * 1024;

/** Config keys of a repository this format reads, besides the host's own. */
const CONFIG_KEYS: Readonly<Record<string, 'boolean'>> = { allowUnpublish: 'boolean' };

function segments(ctx: FormatRequestContext): string[] {
  const rest = ctx.params['rest'];
  return Array.isArray(rest) ? [...rest] : typeof rest === 'string' ? [rest] : [];
}

/**
 * Writes go to hosted repositories. A group forwards them (the same request) to its first
 * hosted member; a proxy takes none.
 */
async function forwardWrite(ctx: FormatRequestContext, write: () => Promise<FormatResponse>): Promise<FormatResponse> {
  const repo = ctx.repository;
  if (repo.type === 'hosted') return write();
  if (repo.type === 'group') {
    const hosted = repo.members!.list.find((m) => m.type === 'hosted');
    if (!hosted) throw new MethodNotAllowedError(`${repo.name} has no hosted member to publish to`);
    return repo.members!.forward(hosted.name);
  }
  throw new MethodNotAllowedError(`${repo.name} is a proxy; publish to a hosted repository (or a group with one)`);
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

const routes: RouteDefinition[] = [
  { method: 'GET', path: '/-/ping', permission: 'read', handler: async () => jsonResponse({}, { cachePolicy: 'no-store' }) },
  { method: 'GET', path: '/-/whoami', permission: 'none', handler: whoami },
  { method: 'POST', path: '/-/v1/login', permission: 'none', handler: webLogin },
  { method: 'PUT', path: '/-/user/:id', permission: 'none', body: { kind: 'json', limit: 64 * 1024 }, handler: couchLogin },
  { method: 'DELETE', path: '/-/user/token/:token', permission: 'none', handler: logout },
  { method: 'POST', path: '/-/npm/v1/tokens', permission: 'none', body: { kind: 'json', limit: 64 * 1024 }, handler: createToken },
  { method: 'GET', path: '/-/npm/v1/tokens', permission: 'none', handler: listTokens },
  { method: 'DELETE', path: '/-/npm/v1/tokens/token/:key', permission: 'none', handler: revokeToken },
  { method: 'GET', path: '/-/v1/search', permission: 'read', handler: search },
  {
    method: 'GET',
    path: '/-/package/*rest',
    permission: 'read',
    handler: async (ctx) => {
      const { name, tag } = parseDistTagPath(segments(ctx), ctx.path);
      if (tag !== undefined) throw new NotFoundError('not found');
      return getDistTags(ctx, name);
    },
  },
  {
    method: ['PUT', 'DELETE'],
    path: '/-/package/*rest',
    permission: 'write',
    body: { kind: 'json', limit: 4096 },
    handler: async (ctx) => {
      const { name, tag } = parseDistTagPath(segments(ctx), ctx.path);
      if (tag === undefined) throw new MethodNotAllowedError('name a dist-tag: /-/package/<name>/dist-tags/<tag>');
      return forwardWrite(ctx, () => {
        if (ctx.method === 'DELETE') return changeDistTag(ctx, name, tag, undefined);
        const version = ctx.body;
        if (typeof version !== 'string' || semver.valid(version) !== version) throw new BadRequestError('the body must be a JSON string holding a version, e.g. "1.0.0"', 'INVALID_VERSION');
        return changeDistTag(ctx, name, tag, version);
      });
    },
  },
  { method: 'POST', path: '/-/npm/v1/security/advisories/bulk', permission: 'read', body: { kind: 'stream', limit: MAX_AUDIT_BYTES }, handler: audit },
  { method: 'POST', path: '/-/npm/v1/security/audits/quick', permission: 'read', body: { kind: 'stream', limit: MAX_AUDIT_BYTES }, handler: audit },
  {
    method: 'GET',
    path: '/*rest',
    permission: 'read',
    handler: async (ctx) => {
      const path = target(ctx);
      if (path.kind === 'packument') return getPackument(ctx, path.name);
      if (path.kind === 'version') return getVersion(ctx, path.name, path.spec);
      if (path.kind === 'tarball') return getTarball(ctx, path.name, path.file);
      throw new NotFoundError('not found');
    },
  },
  {
    method: 'PUT',
    path: '/*rest',
    permission: 'write',
    body: { kind: 'json', spillStringsOver: SPILL_OVER },
    handler: async (ctx) => {
      const path = target(ctx);
      if (path.kind === 'packument') {
        // Some clients send a document update (deprecate) to the package URL itself: no attachments, a _rev.
        const body = ctx.body as { _attachments?: unknown; _rev?: unknown } | undefined;
        const attachments = body?._attachments;
        const hasAttachments = !!attachments && typeof attachments === 'object' && Object.keys(attachments).length > 0;
        if (!hasAttachments && typeof body?._rev === 'string') return forwardWrite(ctx, () => updateDocument(ctx, path.name, body._rev as string));
        return forwardWrite(ctx, () => publish(ctx, path.name));
      }
      if (path.kind === 'revision') return forwardWrite(ctx, () => updateDocument(ctx, path.name, path.rev));
      throw new MethodNotAllowedError(`PUT is not supported on ${ctx.path.slice(0, 200)}`);
    },
  },
  {
    method: 'DELETE',
    path: '/*rest',
    permission: 'delete',
    handler: async (ctx) => {
      const path = target(ctx);
      if (path.kind === 'tarball-revision') return forwardWrite(ctx, () => deleteTarball(ctx, path.name, path.file));
      if (path.kind === 'revision') return forwardWrite(ctx, () => unpublishPackage(ctx, path.name));
      throw new MethodNotAllowedError(`DELETE is not supported on ${ctx.path.slice(0, 200)}`);
    },
  },
];

/** Refuse a repository config whose npm keys have the wrong type, naming the key. */
function validateRepository(repo: RepositoryInfo): void {
  for (const [key, type] of Object.entries(CONFIG_KEYS)) {
    const value = repo.config[key];
    if (value !== undefined && typeof value !== type) throw new BadRequestError(`repositories.${repo.name}.${key}: must be a ${type}`);
  }
}

export const npmFormat: FormatDefinition = {
  id: 'npm',
  routes,
  errorBody: (error) => ({ contentType: 'application/json; charset=utf-8', body: JSON.stringify({ error: error.message, code: error.code }) }),
  authChallenge,
  clientConfig,
  defaultUpstream: localNpmRegistry,
  validateRepository,
};

export { localNpmRegistry };
