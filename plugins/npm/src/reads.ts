import {
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
  UpstreamError,
  type UpstreamPreparation,
  assetResponse,
  jsonResponse,
  type CacheStatus,
  type FormatRequestContext,
  type FormatResponse,
  type MemberResponse,
  type RepositoryType,
} from '@registry-core/api';
import semver from 'semver';
import { expectedFromDist } from './integrity.js';
import { encodedName, tarballPath, tarballVersion, type PackageName } from './names.js';
import {
  ABBREVIATED_TYPE,
  abbreviate,
  mergePackuments,
  originalTarball,
  rewriteTarballs,
  sanitizeUpstreamPackument,
  servedTarballFile,
  wantsAbbreviated,
  withEnvironment,
  type Packument,
} from './packument.js';
import { PackumentCache } from './render-cache.js';

/** Document key of a hosted packument. */
export const packumentKey = (name: PackageName): string => `packument/${name.name}`;
/** Asset path of a proxied packument; `-/` keeps it apart from every tarball path (`<name>/-/<file>`). */
export const proxyPackumentPath = (name: PackageName): string => `-/packument/${name.name}`;
/** Request header naming a dist-tag that `latest` should point at (environments). */
export const ENVIRONMENT_HEADER = 'registry-environment';
/** `meta` keys of a member's answer to its group (never sent to clients). */
const FROM_HOSTED = 'npm.fromHosted';
const RENDER_KEY = 'npm.renderKey';

const cache = new PackumentCache();
const MAX_PACKUMENT_BYTES = 256 * 1024 * 1024;

/** A packument as a repository serves it, with where it came from. */
export interface LoadedPackument {
  readonly doc: Packument;
  readonly cache?: CacheStatus;
  /** A stable identity of `doc` for the answer cache (a hosted document's revision). */
  readonly renderKey?: string;
  /** True when the document comes from hosted repositories only. */
  readonly hosted: boolean;
}

/**
 * The upstream's document, tarball URLs rewritten to `baseUrl` and shared through the
 * parsed-document cache: never mutate it.
 */
export async function loadUpstreamPackument(ctx: FormatRequestContext, name: PackageName, baseUrl: string): Promise<LoadedPackument | undefined> {
  const upstream = ctx.repository.upstream!;
  const result = await upstream.fetch({
    path: proxyPackumentPath(name),
    upstreamUrl: encodedName(name),
    kind: 'metadata',
    headers: { accept: 'application/json' },
    contentType: 'application/json',
    maxBytes: MAX_PACKUMENT_BYTES,
  });
  if (!result.found) return undefined;
  const key = `${result.asset.digests.sha256}\u0000${name.name}\u0000${baseUrl}`;
  const cached = cache.getParsed(key);
  if (cached) return { doc: cached, cache: result.cache, hosted: false };
  let parsed: unknown;
  try {
    parsed = JSON.parse((await result.asset.read(MAX_PACKUMENT_BYTES)).toString('utf8'));
  } catch {
    throw new UpstreamError(`the upstream's document for ${name.name} is not JSON`);
  }
  const doc = sanitizeUpstreamPackument(parsed, name);
  rewriteTarballs(doc, baseUrl, name);
  cache.setParsed(key, doc, result.asset.size);
  return { doc, cache: result.cache, hosted: false };
}

function status(response: FormatResponse): number {
  return response.status ?? 200;
}

function fromHosted(answer: MemberResponse): boolean {
  return answer.member.type === 'hosted' || answer.response.meta?.[FROM_HOSTED] === true;
}

/** A member's answer to the full-document sub-request (no environment: the group applies it). */
async function askMembers(ctx: FormatRequestContext, name: PackageName, members: readonly { name: string; type: RepositoryType }[]): Promise<MemberResponse[]> {
  const request = { method: 'GET', path: `/${encodedName(name)}`, headers: { accept: 'application/json', [ENVIRONMENT_HEADER]: '' } };
  return Promise.all(members.map(async (member) => ({ member, response: await ctx.repository.members!.forward(member.name, request) })));
}

/**
 * A hosted member (or member group) that refused the client might own the name: answer
 * with its refusal instead of looking further (a proxy must not serve a private name to
 * someone the private repository turned away).
 */
function refuseIfRefused(answers: readonly MemberResponse[], name: PackageName): void {
  const refused = answers.find((a) => status(a.response) === 401 || status(a.response) === 403);
  if (!refused) return;
  const message = `${name.name}: ${refused.member.name} refused the request`;
  throw status(refused.response) === 401 ? new UnauthorizedError(message) : new ForbiddenError(message);
}

const isDocument = (a: MemberResponse) => status(a.response) === 200 && a.response.body?.kind === 'json';
const documentOf = (a: MemberResponse) => (a.response.body as { value: Packument }).value;

/** The merged documents of `answers`, with a stable identity when every answer has one. */
function merged(answers: readonly MemberResponse[], hosted: boolean, cache?: CacheStatus): LoadedPackument {
  const keys = answers.map((a) => a.response.meta?.[RENDER_KEY] as string | undefined);
  const renderKey = keys.every((k) => k !== undefined) ? ['group', ...keys].join('\u0001') : undefined;
  return { doc: mergePackuments(answers.map(documentOf))!, hosted, cache, renderKey };
}

/**
 * A group's document, with the dependency-confusion guard. Members are asked tier by
 * tier, so a private name never reaches an upstream:
 *
 * 1. hosted members: when any has the name, their documents alone are merged;
 * 2. member groups: when any answers from its own hosted members, those answers alone;
 * 3. everything else (proxies, and the member groups' other answers), merged in member order.
 *
 * A hosted member or member group that fails makes the group fail (502) rather than
 * answer from the others: it might own the name.
 */
async function loadGroupPackument(ctx: FormatRequestContext, name: PackageName): Promise<LoadedPackument | undefined> {
  const list = ctx.repository.members!.list;
  const order = new Map(list.map((m, i) => [m.name, i]));
  const failClosed = (answers: readonly MemberResponse[]) => {
    refuseIfRefused(answers, name);
    const down = answers.find((a) => status(a.response) >= 500);
    if (down) throw new UpstreamError(`${down.member.name} could not answer for ${name.name}; not answering from the other members alone`);
  };
  const hostedAnswers = await askMembers(ctx, name, list.filter((m) => m.type === 'hosted'));
  const owned = hostedAnswers.filter(isDocument);
  if (owned.length > 0) return merged(owned, true);
  failClosed(hostedAnswers);
  const groupAnswers = await askMembers(ctx, name, list.filter((m) => m.type === 'group'));
  const ownedByGroups = groupAnswers.filter((a) => isDocument(a) && fromHosted(a));
  if (ownedByGroups.length > 0) return merged(ownedByGroups, true);
  failClosed(groupAnswers);
  const proxyAnswers = await askMembers(ctx, name, list.filter((m) => m.type !== 'hosted' && m.type !== 'group'));
  const found = [...groupAnswers, ...proxyAnswers].filter(isDocument).sort((a, b) => order.get(a.member.name)! - order.get(b.member.name)!);
  if (found.length === 0) {
    if (proxyAnswers.some((a) => status(a.response) >= 500)) throw new UpstreamError(`no member could answer for ${name.name}`);
    return undefined;
  }
  const cacheStatus = found.map((a) => a.response.cache).find((c) => c === 'STALE' || c === 'MISS') ?? found.find((a) => a.response.cache)?.response.cache;
  return merged(found, false, cacheStatus);
}

/** The package document as this repository serves it, tarball URLs pointing at `ctx.baseUrl`. */
export async function loadPackument(ctx: FormatRequestContext, name: PackageName): Promise<LoadedPackument | undefined> {
  const repo = ctx.repository;
  if (repo.type === 'hosted') {
    const stored = await repo.documents.get<Packument>(packumentKey(name));
    if (!stored) return undefined;
    rewriteTarballs(stored.value, ctx.baseUrl, name);
    const renderKey = ['hosted', repo.name, name.name, stored.revision, stored.updatedAt.getTime(), stored.value._rev ?? '', ctx.baseUrl].join('\u0000');
    return { doc: stored.value, renderKey, hosted: true };
  }
  if (repo.type === 'proxy') return loadUpstreamPackument(ctx, name, ctx.baseUrl);
  return loadGroupPackument(ctx, name);
}

function environmentOf(ctx: FormatRequestContext): string | undefined {
  return ctx.headers[ENVIRONMENT_HEADER] || undefined;
}

/** Headers every packument answer carries: caches in front must keep the variants apart. */
const VARY = { vary: `Accept, Accept-Encoding, ${ENVIRONMENT_HEADER}` };

/** Answer a loaded packument: full or abbreviated, with the environment applied. */
export function packumentResponse(ctx: FormatRequestContext, loaded: LoadedPackument): FormatResponse {
  const doc = withEnvironment(loaded.doc, environmentOf(ctx));
  // A group gets the full document itself, to guard and merge.
  if (ctx.viaGroup) {
    return jsonResponse(doc, { headers: VARY, cache: loaded.cache, meta: { [FROM_HOSTED]: loaded.hosted, [RENDER_KEY]: loaded.renderKey } });
  }
  const abbreviated = wantsAbbreviated(ctx.headers['accept']);
  // The variant names the `latest` the environment resolved to, not the header as sent.
  const variant = `${abbreviated ? 'abbreviated' : 'full'}\u0000${doc['dist-tags']['latest'] ?? ''}`;
  const rendered = cache.render(loaded.doc, variant, () => (abbreviated ? abbreviate(doc) : doc), loaded.renderKey);
  return {
    headers: { ...VARY, etag: rendered.etag },
    cache: loaded.cache,
    body: { kind: 'buffer', value: rendered.bytes, contentType: abbreviated ? ABBREVIATED_TYPE : 'application/json; charset=utf-8' },
  };
}

export async function getPackument(ctx: FormatRequestContext, name: PackageName): Promise<FormatResponse> {
  // Name-level read rules (auth.permissions with `packages`).
  ctx.authorize('read', name.name);
  const loaded = await loadPackument(ctx, name);
  if (!loaded) throw new NotFoundError(`${name.name} is not in ${ctx.repository.name}`);
  return packumentResponse(ctx, loaded);
}

/** `GET /<name>/<version | dist-tag | range>`: one version's document. */
export async function getVersion(ctx: FormatRequestContext, name: PackageName, spec: string): Promise<FormatResponse> {
  // Name-level read rules (auth.permissions with `packages`).
  ctx.authorize('read', name.name);
  const loaded = await loadPackument(ctx, name);
  if (!loaded) throw new NotFoundError(`${name.name} is not in ${ctx.repository.name}`);
  const doc = withEnvironment(loaded.doc, environmentOf(ctx));
  const tags = doc['dist-tags'];
  let version: string | undefined;
  if (Object.hasOwn(tags, spec)) version = tags[spec];
  else if (Object.hasOwn(doc.versions, spec)) version = spec;
  else if (semver.validRange(spec)) version = semver.maxSatisfying(Object.keys(doc.versions), spec) ?? undefined;
  const found = version !== undefined && Object.hasOwn(doc.versions, version) ? doc.versions[version] : undefined;
  if (!found) throw new NotFoundError(`${name.name}@${spec} is not in ${ctx.repository.name}`);
  return jsonResponse(found, { cache: loaded.cache });
}

/** `GET /-/package/<name>/dist-tags`. */
export async function getDistTags(ctx: FormatRequestContext, name: PackageName): Promise<FormatResponse> {
  // Name-level read rules (auth.permissions with `packages`).
  ctx.authorize('read', name.name);
  const loaded = await loadPackument(ctx, name);
  if (!loaded) throw new NotFoundError(`${name.name} is not in ${ctx.repository.name}`);
  return jsonResponse(loaded.doc['dist-tags'], { cache: loaded.cache, cachePolicy: 'no-store' });
}

/**
 * A group's tarball, with the tiers of the document's guard: hosted members first; a
 * name a hosted member has is answered by hosted members only (else 404), then the same
 * for member groups owning the name through their hosted members; only then the first
 * other member that has the file. A private name never reaches an upstream.
 */
async function getGroupTarball(ctx: FormatRequestContext, name: PackageName, file: string): Promise<FormatResponse> {
  const members = ctx.repository.members!;
  const ok = (response: FormatResponse) => status(response) >= 200 && status(response) < 300;
  const answer = (response: FormatResponse, hosted: boolean): FormatResponse => ({ ...response, meta: { ...response.meta, [FROM_HOSTED]: hosted } });
  const notFound = () => new NotFoundError(`${name.name}/-/${file} is not in ${ctx.repository.name}`);
  const firstHit = async (candidates: readonly { name: string }[]) => {
    for (const member of candidates) {
      const response = await members.forward(member.name);
      if (ok(response)) return response;
    }
    return undefined;
  };
  const hosted = members.list.filter((m) => m.type === 'hosted');
  const fromHostedMember = await firstHit(hosted);
  if (fromHostedMember) return answer(fromHostedMember, true);
  const hostedAnswers = await askMembers(ctx, name, hosted);
  refuseIfRefused(hostedAnswers, name);
  if (hostedAnswers.some(isDocument)) throw notFound();
  const groups = members.list.filter((m) => m.type === 'group');
  const owners = (await askMembers(ctx, name, groups)).filter((a) => isDocument(a) && fromHosted(a)).map((a) => a.member);
  if (owners.length > 0) {
    const fromOwner = await firstHit(owners);
    if (fromOwner) return answer(fromOwner, true);
    throw notFound();
  }
  const fromOthers = await firstHit(members.list.filter((m) => m.type !== 'hosted'));
  if (fromOthers) return answer(fromOthers, false);
  throw notFound();
}

/** `GET /<name>/-/<file>.tgz`. */
export async function getTarball(ctx: FormatRequestContext, name: PackageName, file: string): Promise<FormatResponse> {
  // Name-level read rules (auth.permissions with `packages`).
  ctx.authorize('read', name.name);
  const repo = ctx.repository;
  if (repo.type === 'group') return getGroupTarball(ctx, name, file);
  const notFound = () => new NotFoundError(`${name.name}/-/${file} is not in ${repo.name}`);
  if (repo.type === 'hosted') {
    if (tarballVersion(name, file) === undefined) throw notFound();
    const stored = await repo.assets.get(tarballPath(name, file));
    if (!stored) throw notFound();
    return assetResponse(stored, { meta: { [FROM_HOSTED]: true } });
  }
  const path = tarballPath(name, file);
  const upstream = repo.upstream!;
  // The upstream's document says which version the file is, where it is and what it must
  // hash to; it is read only on a miss (a hit is served straight from storage).
  const prepare = async (): Promise<UpstreamPreparation> => {
    const loaded = await loadUpstreamPackument(ctx, name, ctx.baseUrl);
    const version = loaded && Object.values(loaded.doc.versions).find((v) => servedTarballFile(name, v) === file);
    if (!version) throw new NotFoundError(`${name.name}/-/${file} is not a tarball the upstream lists`);
    const expect = expectedFromDist(version.dist);
    if (!expect) throw new UpstreamError(`the upstream announces no digest for ${file}; refusing to cache unverifiable content`);
    const original = originalTarball(version) ?? '';
    // The proxy fetches only from the upstream's own origin and its allowed origins; for a
    // tarball anywhere else, npm's conventional path on the upstream.
    const upstreamUrl = original && upstream.allows(original) ? original : `${name.name}/-/${file}`;
    return { upstreamUrl, expect };
  };
  // Served while it is stored (streaming tee): the client's first bytes do not wait for the whole file.
  const result = await upstream.serve({ path, kind: 'content', contentType: 'application/octet-stream', maxBytes: repo.limits.maxUploadBytes * 4, prepare });
  if (!result.found) throw new NotFoundError(`${name.name}/-/${file} is not upstream`);
  return { body: result.body, cache: result.cache };
}

/** Cache statistics, for tests. */
export function packumentCacheStats(): ReturnType<PackumentCache['stats']> {
  return cache.stats();
}
