import { execFile } from 'node:child_process';
import {
  BadRequestError,
  MethodNotAllowedError,
  NotFoundError,
  UnauthorizedError,
  UpstreamError,
  assetResponse,
  jsonResponse,
  type CacheStatus,
  type FormatDefinition,
  type FormatRequestContext,
  type FormatResponse,
  type RepositoryInfo,
  type RouteDefinition,
} from '@registry-core/api';
import semver from 'semver';
import { expectedFromDist } from './integrity.js';
import { encodedName, parseName, tarballPath, type PackageName } from './names.js';
import {
  ABBREVIATED_TYPE,
  abbreviate,
  mergePackuments,
  originalTarball,
  rewriteTarballs,
  tarballBasename,
  wantsAbbreviated,
  withEnvironment,
  type Packument,
} from './packument.js';
import { PackumentCache } from './render-cache.js';
import { parseNpmPath } from './paths.js';
import { changeDistTag, deleteTarball, packumentKey, publish, unpublishPackage, updateDocument } from './publish.js';

const PROXY_PACKUMENT = (name: PackageName) => `-/packument/${name.name}`;
const cache = new PackumentCache();
const MAX_PACKUMENT_BYTES = 256 * 1024 * 1024;
/** Strings longer than this in a publish body go to disk, not memory (the base64 tarball). */
const SPILL_OVER = 256 * 1024;

function segments(ctx: FormatRequestContext): string[] {
  const rest = ctx.params['rest'];
  return Array.isArray(rest) ? [...rest] : typeof rest === 'string' ? [rest] : [];
}

/** A packument with where it came from (proxy cache status). */
interface Loaded {
  readonly doc: Packument;
  readonly cache?: CacheStatus;
}

/**
 * The upstream's document. Unmodified (tarball URLs still the upstream's) when `baseUrl`
 * is omitted; else rewritten to it and shared through the cache: never mutate it.
 */
async function loadUpstreamPackument(ctx: FormatRequestContext, name: PackageName, baseUrl?: string): Promise<Loaded | undefined> {
  const upstream = ctx.repository.upstream!;
  const result = await upstream.fetch({
    path: PROXY_PACKUMENT(name),
    upstreamUrl: encodedName(name),
    kind: 'metadata',
    headers: { accept: 'application/json' },
    contentType: 'application/json',
    maxBytes: MAX_PACKUMENT_BYTES,
  });
  if (!result.found) return undefined;
  const key = baseUrl === undefined ? undefined : `${result.asset.digests.sha256}\u0000${baseUrl}`;
  const cached = key ? cache.getParsed(key) : undefined;
  if (cached) return { doc: cached, cache: result.cache };
  let doc: Packument;
  try {
    doc = JSON.parse((await result.asset.read(MAX_PACKUMENT_BYTES)).toString('utf8')) as Packument;
  } catch {
    throw new UpstreamError(`the upstream's document for ${name.name} is not JSON`);
  }
  if (!doc || typeof doc !== 'object' || typeof doc.versions !== 'object' || doc.versions === null) {
    throw new UpstreamError(`the upstream's document for ${name.name} is not a package document`);
  }
  doc['dist-tags'] ??= {};
  if (key && baseUrl !== undefined) {
    rewriteTarballs(doc, baseUrl);
    cache.setParsed(key, doc, result.asset.size);
  }
  return { doc, cache: result.cache };
}

/** The package document as this repository serves it, tarball URLs pointing at `ctx.baseUrl`. */
async function loadPackument(ctx: FormatRequestContext, name: PackageName): Promise<Loaded | undefined> {
  const repo = ctx.repository;
  if (repo.type === 'hosted') {
    const stored = await repo.documents.get<Packument>(packumentKey(name));
    if (!stored) return undefined;
    rewriteTarballs(stored.value, ctx.baseUrl);
    return { doc: stored.value };
  }
  if (repo.type === 'proxy') return loadUpstreamPackument(ctx, name, ctx.baseUrl);
  const answers = await repo.members!.all({
    method: 'GET',
    path: `/${encodedName(name)}`,
    headers: { accept: 'application/json', 'registry-environment': '' },
  });
  const found = answers.filter((a) => (a.response.status ?? 200) === 200 && a.response.body?.kind === 'json');
  // The dependency-confusion guard: a name any hosted member has is served from hosted members only.
  const hosted = found.filter((a) => a.member.type === 'hosted');
  const chosen = hosted.length > 0 ? hosted : found;
  if (chosen.length === 0) {
    const failed = answers.find((a) => (a.response.status ?? 200) >= 500);
    if (failed && answers.every((a) => (a.response.status ?? 200) !== 200)) {
      throw new UpstreamError(`no member could answer for ${name.name}`);
    }
    return undefined;
  }
  const docs = chosen.map((a) => (a.response.body as { value: Packument }).value);
  const cache = chosen.map((a) => a.response.cache).find((c) => c === 'STALE' || c === 'MISS');
  return { doc: mergePackuments(docs)!, cache };
}

function packumentResponse(ctx: FormatRequestContext, loaded: Loaded): FormatResponse {
  const environment = ctx.headers['registry-environment'] || undefined;
  const doc = withEnvironment(loaded.doc, environment);
  const headers = { vary: 'Accept, Accept-Encoding, registry-environment' };
  // Group members hand the group the document itself, to merge.
  if (ctx.viaGroup) return jsonResponse(doc, { headers, cache: loaded.cache });
  const abbreviated = wantsAbbreviated(ctx.headers['accept']);
  const variant = `${abbreviated ? 'abbreviated' : 'full'}\u0000${environment ?? ''}`;
  const rendered = cache.render(loaded.doc, variant, () => (abbreviated ? abbreviate(doc) : doc));
  return {
    headers: { ...headers, etag: rendered.etag },
    cache: loaded.cache,
    body: { kind: 'buffer', value: rendered.bytes, contentType: abbreviated ? ABBREVIATED_TYPE : 'application/json; charset=utf-8' },
  };
}

async function getPackument(ctx: FormatRequestContext, name: PackageName): Promise<FormatResponse> {
  const loaded = await loadPackument(ctx, name);
  if (!loaded) throw new NotFoundError(`${name.name} is not in ${ctx.repository.name}`);
  return packumentResponse(ctx, loaded);
}

async function getVersion(ctx: FormatRequestContext, name: PackageName, spec: string): Promise<FormatResponse> {
  const loaded = await loadPackument(ctx, name);
  if (!loaded) throw new NotFoundError(`${name.name} is not in ${ctx.repository.name}`);
  const doc = withEnvironment(loaded.doc, ctx.headers['registry-environment'] || undefined);
  const version = doc['dist-tags'][spec] ?? (doc.versions[spec] ? spec : semver.maxSatisfying(Object.keys(doc.versions), spec) ?? undefined);
  const found = version ? doc.versions[version] : undefined;
  if (!found) throw new NotFoundError(`${name.name}@${spec} is not in ${ctx.repository.name}`);
  return jsonResponse(found, { cache: loaded.cache });
}

async function getTarball(ctx: FormatRequestContext, name: PackageName, file: string): Promise<FormatResponse> {
  const repo = ctx.repository;
  const path = tarballPath(name, file);
  if (repo.type === 'group') {
    const hit = await repo.members!.first();
    if (!hit) throw new NotFoundError(`${name.name}/-/${file} is not in ${repo.name}`);
    return hit.response;
  }
  const stored = await repo.assets.get(path);
  if (stored) return assetResponse(stored, repo.type === 'proxy' ? { cache: 'HIT' } : {});
  if (repo.type === 'hosted') throw new NotFoundError(`${name.name}/-/${file} is not in ${repo.name}`);
  // Proxy: the upstream's document says where the tarball is and what it must hash to.
  const loaded = await loadUpstreamPackument(ctx, name, ctx.baseUrl);
  const version = loaded && Object.values(loaded.doc.versions).find((v) => v?.dist && tarballBasename(String(v.dist.tarball ?? '')) === file);
  if (!version) throw new NotFoundError(`${name.name}/-/${file} is not a tarball the upstream lists`);
  const expect = expectedFromDist(version.dist);
  if (!expect) throw new UpstreamError(`the upstream announces no digest for ${file}; refusing to cache unverifiable content`);
  const upstream = repo.upstream!;
  const original = originalTarball(version) ?? '';
  let upstreamUrl = `${encodedName(name)}/-/${file}`;
  try {
    if (new URL(original, upstream.upstreamUrl).origin === new URL(upstream.upstreamUrl).origin) upstreamUrl = original;
  } catch {
    // keep the conventional location
  }
  const result = await upstream.fetch({ path, upstreamUrl, kind: 'content', expect, contentType: 'application/octet-stream', maxBytes: repo.limits.maxUploadBytes * 4 });
  if (!result.found) throw new NotFoundError(`${name.name}/-/${file} is not upstream`);
  return assetResponse(result.asset, { cache: result.cache });
}

/** Writes to a group go to its first hosted member; a proxy takes none. */
async function forwardWrite(ctx: FormatRequestContext, write: () => Promise<FormatResponse>): Promise<FormatResponse> {
  const repo = ctx.repository;
  if (repo.type === 'hosted') return write();
  if (repo.type === 'group') {
    const hosted = repo.members!.list.find((m) => m.type === 'hosted');
    if (!hosted) throw new MethodNotAllowedError(`${repo.name} has no hosted member to publish to`);
    return repo.members!.forward(hosted.name);
  }
  throw new MethodNotAllowedError(`${repo.name} is a proxy; publish to a hosted repository`);
}

function emptySearch(): FormatResponse {
  return jsonResponse({ objects: [], total: 0, time: new Date().toUTCString() }, { cachePolicy: 'no-store' });
}

interface SearchObject {
  package: { name: string; [k: string]: unknown };
  [k: string]: unknown;
}

async function search(ctx: FormatRequestContext): Promise<FormatResponse> {
  const repo = ctx.repository;
  const text = (ctx.query.get('text') ?? '').slice(0, 256);
  const sizeParam = ctx.query.get('size') ?? '20';
  const fromParam = ctx.query.get('from') ?? '0';
  if (!/^\d{1,5}$/.test(sizeParam) || Number(sizeParam) > 10_000) throw new BadRequestError(`size must be an integer from 0 to ${repo.limits.maxSearchResults}`);
  if (!/^\d{1,7}$/.test(fromParam)) throw new BadRequestError('from must be a non-negative integer');
  const size = Math.min(Number(sizeParam), repo.limits.maxSearchResults);
  const from = Number(fromParam);
  if (repo.type === 'hosted') {
    const result = await repo.components.search({ text, offset: from, limit: size });
    const objects = result.items.map((c) => ({
      package: {
        name: c.name,
        version: c.version,
        description: c.attributes['description'] ?? '',
        keywords: c.attributes['keywords'] ?? [],
        date: c.updatedAt.toISOString(),
        links: {},
        publisher: {},
        maintainers: [],
      },
      score: { final: 1, detail: { quality: 1, popularity: 1, maintenance: 1 } },
      searchScore: 1,
    }));
    return jsonResponse({ objects, total: result.total, time: new Date().toUTCString() }, { cachePolicy: 'no-store' });
  }
  if (repo.type === 'proxy') {
    try {
      const answer = await repo.upstream!.passthrough({ method: 'GET', upstreamUrl: `-/v1/search?${new URLSearchParams({ text, size: String(size), from: String(from) })}`, headers: { accept: 'application/json' }, maxBytes: 8 * 1024 * 1024 });
      if (answer.status !== 200) return emptySearch();
      const parsed = JSON.parse(answer.body.toString('utf8')) as { objects?: unknown };
      if (!Array.isArray(parsed.objects)) return emptySearch();
      return jsonResponse(parsed, { cachePolicy: 'no-store' });
    } catch (error) {
      ctx.logger.warn('upstream search failed; answering an empty result', { error: (error as Error).message });
      return emptySearch();
    }
  }
  const answers = await repo.members!.all();
  const seen = new Set<string>();
  const objects: SearchObject[] = [];
  for (const { response } of answers) {
    if ((response.status ?? 200) !== 200 || response.body?.kind !== 'json') continue;
    for (const object of ((response.body.value as { objects?: SearchObject[] }).objects ?? [])) {
      if (object?.package?.name && !seen.has(object.package.name)) {
        seen.add(object.package.name);
        objects.push(object);
      }
    }
  }
  return jsonResponse({ objects: objects.slice(0, size), total: objects.length, time: new Date().toUTCString() }, { cachePolicy: 'no-store' });
}

/** `/-/package/<name>/dist-tags[/<tag>]`, the name's scope slash encoded or not. */
function parseDistTagPath(ctx: FormatRequestContext): { name: PackageName; tag?: string } {
  const parts = segments(ctx).flatMap((s) => s.split('/'));
  const at = parts.indexOf('dist-tags');
  if (at < 1 || parts.length > at + 2) throw new NotFoundError('not found');
  return { name: parseName(parts.slice(0, at).join('/')), tag: parts[at + 1] };
}

async function audit(ctx: FormatRequestContext): Promise<FormatResponse> {
  const repo = ctx.repository;
  const proxy = repo.type === 'proxy' ? repo : undefined;
  if (!proxy) {
    if (repo.type === 'group') {
      const member = repo.members!.list.find((m) => m.type === 'proxy');
      if (member) return repo.members!.forward(member.name);
    }
    return jsonResponse({}, { cachePolicy: 'no-store' });
  }
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.body as AsyncIterable<Buffer>) chunks.push(chunk);
  const headers: Record<string, string> = { 'content-type': ctx.headers['content-type'] ?? 'application/json', accept: 'application/json' };
  if (ctx.headers['content-encoding']) headers['content-encoding'] = ctx.headers['content-encoding'];
  try {
    const answer = await proxy.upstream!.passthrough({ method: 'POST', upstreamUrl: ctx.path.replace(/^\//, ''), headers, body: Buffer.concat(chunks) });
    if (answer.status !== 200) return jsonResponse({}, { cachePolicy: 'no-store' });
    return { body: { kind: 'buffer', value: answer.body, contentType: 'application/json' }, cachePolicy: 'no-store' };
  } catch {
    return jsonResponse({}, { cachePolicy: 'no-store' });
  }
}

async function couchLogin(ctx: FormatRequestContext): Promise<FormatResponse> {
  const id = String(ctx.params['id'] ?? '');
  const body = ctx.body as { name?: unknown; password?: unknown; email?: unknown } | undefined;
  const name = id.startsWith('org.couchdb.user:') ? id.slice('org.couchdb.user:'.length) : id;
  if (!body || typeof body.password !== 'string' || !name || (body.name !== undefined && body.name !== name)) {
    throw new BadRequestError('expected {"name", "password"} for org.couchdb.user:<name>');
  }
  let token: string;
  try {
    token = (await ctx.auth.login(name, body.password)).token;
  } catch (error) {
    if (!(error instanceof Error) || (error as { status?: number }).status !== 401) throw error;
    try {
      token = (await ctx.auth.addUser(name, body.password, typeof body.email === 'string' ? body.email : undefined)).token;
    } catch (addError) {
      // The name exists, so the password was wrong.
      if ((addError as { status?: number }).status === 409) throw new UnauthorizedError(`bad password for ${name}`);
      throw addError;
    }
    return { status: 201, body: { kind: 'json', value: { ok: true, id: `org.couchdb.user:${name}`, token } } };
  }
  return { status: 201, body: { kind: 'json', value: { ok: true, id: `org.couchdb.user:${name}`, token } } };
}

const routes: RouteDefinition[] = [
  { method: 'GET', path: '/-/ping', permission: 'read', handler: async () => jsonResponse({}, { cachePolicy: 'no-store' }) },
  {
    method: 'GET',
    path: '/-/whoami',
    permission: 'none',
    handler: async (ctx) => {
      if (ctx.principal.anonymous) throw new UnauthorizedError('not logged in');
      return jsonResponse({ username: ctx.principal.name }, { cachePolicy: 'no-store' });
    },
  },
  { method: 'PUT', path: '/-/user/:id', permission: 'none', body: { kind: 'json', limit: 64 * 1024 }, handler: couchLogin },
  {
    method: 'DELETE',
    path: '/-/user/token/:token',
    permission: 'none',
    handler: async (ctx) => {
      const given = String(ctx.params['token'] ?? '');
      const bearer = /^Bearer (.+)$/i.exec(ctx.headers['authorization'] ?? '')?.[1];
      // Only the token itself, sent as the credential too, may be revoked this way.
      if (!bearer || bearer !== given) throw new UnauthorizedError('log out with the token being revoked');
      await ctx.auth.revokeToken(given);
      return jsonResponse({ ok: true }, { cachePolicy: 'no-store' });
    },
  },
  { method: 'GET', path: '/-/v1/search', permission: 'read', handler: search },
  {
    method: 'GET',
    path: '/-/package/*rest',
    permission: 'read',
    handler: async (ctx) => {
      const { name, tag } = parseDistTagPath(ctx);
      if (tag !== undefined) throw new NotFoundError('not found');
      const loaded = await loadPackument(ctx, name);
      if (!loaded) throw new NotFoundError(`${name.name} is not in ${ctx.repository.name}`);
      return jsonResponse(loaded.doc['dist-tags'], { cache: loaded.cache, cachePolicy: 'no-store' });
    },
  },
  {
    method: ['PUT', 'DELETE'],
    path: '/-/package/*rest',
    permission: 'write',
    body: { kind: 'json', limit: 4096 },
    handler: async (ctx) => {
      const { name, tag } = parseDistTagPath(ctx);
      if (tag === undefined) throw new NotFoundError('name a dist-tag');
      return forwardWrite(ctx, () => {
        if (ctx.method === 'DELETE') return changeDistTag(ctx, name, tag, undefined);
        const version = ctx.body;
        if (typeof version !== 'string' || semver.valid(version) !== version) throw new BadRequestError('the body must be a JSON string holding a version');
        return changeDistTag(ctx, name, tag, version);
      });
    },
  },
  { method: 'POST', path: '/-/npm/v1/security/advisories/bulk', permission: 'read', body: { kind: 'stream', limit: 16 * 1024 * 1024 }, handler: audit },
  { method: 'POST', path: '/-/npm/v1/security/audits/quick', permission: 'read', body: { kind: 'stream', limit: 16 * 1024 * 1024 }, handler: audit },
  {
    method: 'GET',
    path: '/*rest',
    permission: 'read',
    handler: async (ctx) => {
      const target = parseNpmPath(segments(ctx), ctx.path);
      switch (target.kind) {
        case 'packument':
          return getPackument(ctx, target.name);
        case 'version':
          return getVersion(ctx, target.name, target.spec);
        case 'tarball':
          return getTarball(ctx, target.name, target.file);
        default:
          throw new NotFoundError('not found');
      }
    },
  },
  {
    method: 'PUT',
    path: '/*rest',
    permission: 'write',
    body: { kind: 'json', spillStringsOver: SPILL_OVER },
    handler: async (ctx) => {
      const target = parseNpmPath(segments(ctx), ctx.path);
      if (target.kind === 'packument') {
        // npm deprecate sends the whole document back to the package URL, without attachments.
        const body = ctx.body as { _attachments?: unknown; _rev?: unknown } | undefined;
        const attachments = body?._attachments;
        const hasAttachments = !!attachments && typeof attachments === 'object' && Object.keys(attachments).length > 0;
        if (!hasAttachments && typeof body?._rev === 'string') return forwardWrite(ctx, () => updateDocument(ctx, target.name, body._rev as string));
        return forwardWrite(ctx, () => publish(ctx, target.name));
      }
      if (target.kind === 'revision') return forwardWrite(ctx, () => updateDocument(ctx, target.name, target.rev));
      throw new MethodNotAllowedError(`PUT is not supported on ${ctx.path}`);
    },
  },
  {
    method: 'DELETE',
    path: '/*rest',
    permission: 'delete',
    handler: async (ctx) => {
      const target = parseNpmPath(segments(ctx), ctx.path);
      if (target.kind === 'tarball-revision') return forwardWrite(ctx, () => deleteTarball(ctx, target.name, target.file));
      if (target.kind === 'revision') return forwardWrite(ctx, () => unpublishPackage(ctx, target.name));
      throw new MethodNotAllowedError(`DELETE is not supported on ${ctx.path}`);
    },
  },
];

/** The registry the local npm client is configured with (never a hard-coded host). */
export function localNpmRegistry(): Promise<string | undefined> {
  const fromEnv = process.env['npm_config_registry'];
  return new Promise((resolve) => {
    execFile('npm', ['config', 'get', 'registry'], { timeout: 10_000, env: { ...process.env } }, (error, stdout) => {
      const value = (error ? '' : stdout.trim()) || fromEnv || '';
      try {
        const url = new URL(value);
        resolve(url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined);
      } catch {
        resolve(undefined);
      }
    });
  });
}

function clientConfig(repo: RepositoryInfo): string[] {
  const url = new URL(repo.url);
  const nerf = `//${url.host}${url.pathname}`;
  const lines = [`npm config set registry ${repo.url}`, `.npmrc: registry=${repo.url}`, `.npmrc: ${nerf}:_authToken=\${NPM_TOKEN}`];
  if (repo.type === 'hosted') lines.push(`npm publish --registry ${repo.url}`);
  return lines;
}

export const npmFormat: FormatDefinition = {
  id: 'npm',
  routes,
  errorBody: (error) => ({ contentType: 'application/json; charset=utf-8', body: JSON.stringify({ error: error.message, code: error.code }) }),
  clientConfig,
  defaultUpstream: localNpmRegistry,
};
