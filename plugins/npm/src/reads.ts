import {
  NotFoundError,
  UpstreamError,
  type UpstreamPreparation,
  assetResponse,
  jsonResponse,
  renderedResponse,
  yielder,
  type FormatRequestContext,
  type FormatResponse,
  type LoadedDocument,
  type MergeableDocument,
  type ProxyCache,
  type HostedRepositoryHandle,
  type ProxyRepositoryHandle,
  type RepositoryHandle,
  isRegistryError,
} from '@registry-core/api';
import semver from 'semver';
import { expectedFromDist } from './integrity.js';
import { encodedName, tarballPath, tarballVersion, type PackageName } from './names.js';
import {
  ABBREVIATED_TYPE,
  abbreviate,
  maxSatisfyingYielding,
  mergePackuments,
  originalTarball,
  rewriteTarballs,
  sanitizeUpstreamPackument,
  servedTarballFile,
  wantsAbbreviated,
  withEnvironment,
  type Packument,
  type VersionDocument,
} from './packument.js';
import { keepParsedUpstream, parsedUpstream, renderPackument } from './render-cache.js';

/** Document key of a hosted packument. */
export const packumentKey = (name: PackageName): string => `packument/${name.name}`;
/**
 * Which of the upstream's documents a proxy reads: the full packument, or the abbreviated
 * ("corgi") one installers ask for, a fraction of its size (what an install straight from
 * the upstream downloads).
 */
export type PackumentForm = 'full' | 'abbreviated';

/** Asset path of a proxied packument; `-/` keeps it apart from every tarball path (`<name>/-/<file>`). */
export const proxyPackumentPath = (name: PackageName, form: PackumentForm = 'full'): string => `-/${form === 'full' ? 'packument' : 'corgi'}/${name.name}`;

/** What a proxy asks its upstream for, by form: an upstream without abbreviated documents answers the full one, which serves as well. */
const UPSTREAM_ACCEPT: Record<PackumentForm, string> = {
  full: 'application/json',
  abbreviated: `${ABBREVIATED_TYPE}; q=1.0, application/json; q=0.8`,
};
/** Request header naming a dist-tag that `latest` should point at (environments). */
export const ENVIRONMENT_HEADER = 'registry-environment';

/**
 * Largest upstream packument a proxy takes unless `cache.maxMetadataSize` says otherwise:
 * the largest real ones are tens of megabytes.
 */
export const MAX_PACKUMENT_BYTES = 64 * 1024 * 1024;

/**
 * A package document read only when something needs its contents. The revision, the cache
 * status and the name are known without it; a rendering kept under the revision needs
 * nothing more, so a warm read (through a group too: the merge of sources is itself a
 * source) never parses the upstream's packument. `get` reads it once per request and
 * shares the result; it is the same document the eager loaders give, never to be mutated.
 */
export class PackumentSource {
  private read: (() => Promise<Packument>) | undefined;
  private value: Promise<Packument> | undefined;

  constructor(
    /** The name the client asked for (the document's own is not trusted). */
    readonly name: string,
    read: () => Promise<Packument>,
  ) {
    this.read = read;
  }

  /** A source of a document already read. */
  static of(name: string, doc: Packument): PackumentSource {
    return new PackumentSource(name, () => Promise.resolve(doc));
  }

  get(): Promise<Packument> {
    if (!this.value) {
      const read = this.read!;
      this.read = undefined;
      this.value = read();
    }
    return this.value;
  }
}

/**
 * The upstream's document, tarball URLs rewritten to `baseUrl` and shared through the
 * parsed-document cache: never mutate it. Its revision names the stored bytes, the name
 * and the base URL, which decide the parsed document.
 */
export async function loadUpstreamPackument(repo: ProxyRepositoryHandle, name: PackageName, baseUrl: string, form: PackumentForm = 'full'): Promise<LoadedDocument<Packument> | undefined> {
  const lazy = await upstreamPackumentSource(repo, name, baseUrl, form);
  return lazy && { ...lazy, value: await lazy.value.get() };
}

/**
 * {@link loadUpstreamPackument} without reading the document: the upstream is asked (or the
 * cached copy found fresh) and the revision named, the parse waits for {@link PackumentSource.get}.
 */
export async function upstreamPackumentSource(repo: ProxyRepositoryHandle, name: PackageName, baseUrl: string, form: PackumentForm = 'full'): Promise<LoadedDocument<PackumentSource> | undefined> {
  // An abbreviated read where only the full document is cached takes the full one (npm 11
  // reads the full documents of an install first, then the abbreviated ones): one upstream
  // document per package, not two. With the upstream gone that is also what serves it. Never
  // the other way: a full read (`npm install --before` needs `time`) is not answered with
  // the abbreviated document.
  const which = form === 'abbreviated' && !(await repo.assets.get(proxyPackumentPath(name, 'abbreviated'))) && (await repo.assets.get(proxyPackumentPath(name, 'full'))) ? 'full' : form;
  const result = await repo.upstream.fetch({
    path: proxyPackumentPath(name, which),
    upstreamUrl: encodedName(name),
    kind: 'metadata',
    headers: { accept: UPSTREAM_ACCEPT[which] },
    contentType: 'application/json',
    maxBytes: repo.limits.maxMetadataBytes,
  });
  if (!result.found) return undefined;
  const key = `${result.asset.digests.sha256}\u0000${name.name}\u0000${baseUrl}`;
  const revision = `proxy\u0000${key}`;
  const read = async (): Promise<Packument> => {
    const cached = parsedUpstream(repo.derived, key);
    if (cached) return cached;
    let parsed: unknown;
    try {
      // Parsed under the host's metadata memory, without holding the event loop.
      parsed = await result.asset.readJson(repo.limits.maxMetadataBytes);
    } catch (error) {
      // A cached copy over a limit lowered since is the upstream's document too large: a 502.
      if (isRegistryError(error) && error.status !== 413) throw error;
      throw new UpstreamError(isRegistryError(error) ? error.message : `the upstream's document for ${name.name} is not JSON`);
    }
    const doc = await sanitizeUpstreamPackument(parsed, name);
    await rewriteTarballs(doc, baseUrl, name);
    keepParsedUpstream(repo.derived, key, doc, result.asset.size, `${name.name}\u0000${baseUrl}\u0000${which}`);
    return doc;
  };
  return { value: new PackumentSource(name.name, read), cache: result.cache, revision };
}

/**
 * A hosted repository's package document, tarball URLs pointing at `ctx.baseUrl` (a
 * group's, when read for one).
 */
async function loadHostedPackument(ctx: FormatRequestContext, repo: HostedRepositoryHandle, name: PackageName): Promise<LoadedDocument<PackumentSource> | undefined> {
  const stored = await repo.documents.get<Packument>(packumentKey(name));
  if (!stored) return undefined;
  await rewriteTarballs(stored.value, ctx.baseUrl, name);
  // The maintainers are the name's owners, kept by the registry (documents of names published
  // before owners existed keep the publishers they list until someone claims the name).
  const owners = await ctx.owners.list(name.name);
  if (owners.length > 0) stored.value.maintainers = owners.map((o) => ({ name: o.name, ...(o.email ? { email: o.email } : {}) }));
  const revision = ['hosted', repo.name, name.name, stored.revision, stored.updatedAt.getTime(), stored.value._rev ?? '', ctx.baseUrl, JSON.stringify(owners)].join('\u0000');
  return { value: PackumentSource.of(name.name, stored.value), revision };
}

/** The name a route reads, once the caller may read it (name-level rules: auth.permissions with `packages`). */
function readableName(ctx: FormatRequestContext, nameOf: (ctx: FormatRequestContext) => PackageName): PackageName {
  const name = nameOf(ctx);
  ctx.authorize('read', name.name);
  return name;
}

/**
 * A package document read by a route, mergeable across a group's members: each loader checks
 * the name-level read rules of each repository it runs on (a private member stays
 * private through a group), `merge` is {@link mergePackuments} (the kernel merges only
 * proxies' documents: an owner answers alone), `render` answers the route. Proxies' documents
 * are {@link PackumentSource}s read only when the answer needs them, and so is a merge.
 */
export function packumentDocument(
  nameOf: (ctx: FormatRequestContext) => PackageName,
  render: (ctx: FormatRequestContext, document: LoadedDocument<PackumentSource>) => FormatResponse | Promise<FormatResponse>,
  /** Which upstream document a proxy reads for the request (a hosted one always has the full one). */
  formOf: (ctx: FormatRequestContext) => PackumentForm = () => 'full',
): MergeableDocument<PackumentSource> {
  return {
    hosted: (ctx, repo) => loadHostedPackument(ctx, repo, readableName(ctx, nameOf)),
    proxy: (ctx, repo) => upstreamPackumentSource(repo, readableName(ctx, nameOf), ctx.baseUrl, formOf(ctx)),
    merge(documents) {
      const first = documents[0];
      if (!first) throw new NotFoundError('no document to merge');
      return new PackumentSource(first.name, () => mergeSources(documents));
    },
    render,
  };
}

/**
 * The documents of `sources` merged in order. Only proxies' documents are merged, and a proxy
 * may fail while another answers (as when it is asked): a document that cannot be read is
 * left out, unless none can.
 */
async function mergeSources(sources: readonly PackumentSource[]): Promise<Packument> {
  const read = await Promise.allSettled(sources.map((source) => source.get()));
  const docs = read.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const merged = await mergePackuments(docs);
  if (!merged) throw (read.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason;
  return merged;
}

function environmentOf(ctx: FormatRequestContext): string | undefined {
  return ctx.headers[ENVIRONMENT_HEADER] || undefined;
}

/** Headers every packument answer carries: caches in front must keep the variants apart. */
const VARY = { vary: `Accept, Accept-Encoding, ${ENVIRONMENT_HEADER}` };

/**
 * `GET /<name>`: full or abbreviated, with the environment applied. The answer is rendered
 * by the kernel (without holding the event loop) and kept under the document's revision (a
 * hosted document's, a cached upstream file's, or a group's merge of those). Without an
 * environment header the document is not read at all when that rendering is kept.
 */
export async function packumentResponse(ctx: FormatRequestContext, loaded: LoadedDocument<PackumentSource>): Promise<FormatResponse> {
  const environment = environmentOf(ctx);
  const abbreviated = wantsAbbreviated(ctx.headers['accept']);
  const form = abbreviated ? 'abbreviated' : 'full';
  // An environment names a dist-tag to serve as `latest`: which version that is, and whether
  // the document has it, takes the document. Without one the revision decides the answer.
  const source = loaded.value;
  const applied = environment === undefined ? undefined : await environmentApplied(source, environment);
  // The variant names the `latest` the environment resolved to, not the header as sent.
  const variant = `${form}\u0000${applied ? applied['dist-tags']['latest'] : ''}`;
  // One rendering per package, base URL, variant and dist-tag applied (a tag the document
  // has: bounded by it, whatever headers are sent): a newer revision's replaces the older.
  const slot = [source.name, ctx.baseUrl, form, applied ? environment : 'latest'].join('\u0000');
  const produce = async () => {
    const doc = applied ?? (await source.get());
    return abbreviated ? abbreviate(doc) : doc;
  };
  const rendered = await renderPackument(ctx.repository.derived, variant, produce, loaded.revision, slot);
  return renderedResponse(rendered, {
    headers: VARY,
    ...(loaded.cache ? { cache: loaded.cache } : {}),
    contentType: abbreviated ? ABBREVIATED_TYPE : 'application/json; charset=utf-8',
  });
}

/** The document with `environment`'s dist-tag as `latest`; `undefined` when that changes nothing. */
async function environmentApplied(source: PackumentSource, environment: string): Promise<Packument | undefined> {
  const doc = await source.get();
  const applied = withEnvironment(doc, environment);
  return applied === doc ? undefined : applied;
}

/** `GET /<name>/<version | dist-tag | range>`: one version's document. */
export async function versionResponse(ctx: FormatRequestContext, name: PackageName, spec: string, loaded: LoadedDocument<PackumentSource>): Promise<FormatResponse> {
  const doc = withEnvironment(await loaded.value.get(), environmentOf(ctx));
  const tags = doc['dist-tags'];
  let version: string | undefined;
  if (Object.hasOwn(tags, spec)) version = tags[spec];
  else if (Object.hasOwn(doc.versions, spec)) version = spec;
  else if (semver.validRange(spec)) version = await maxSatisfyingYielding(Object.keys(doc.versions), spec);
  const found = version !== undefined && Object.hasOwn(doc.versions, version) ? doc.versions[version] : undefined;
  if (!found) throw new NotFoundError(`${name.name}@${spec} is not in ${ctx.repository.name}`);
  return jsonResponse(found, loaded.cache ? { cache: loaded.cache } : {});
}

/** `GET /-/package/<name>/dist-tags`. */
export async function distTagsResponse(loaded: LoadedDocument<PackumentSource>): Promise<FormatResponse> {
  return jsonResponse((await loaded.value.get())['dist-tags'], { ...(loaded.cache ? { cache: loaded.cache } : {}), cachePolicy: 'no-store' });
}

/** `GET /<name>/-/<file>.tgz` on a hosted repository. */
export async function getHostedTarball(ctx: FormatRequestContext, repo: HostedRepositoryHandle, name: PackageName, file: string): Promise<FormatResponse> {
  // Name-level read rules (auth.permissions with `packages`).
  ctx.authorize('read', name.name);
  const notFound = () => new NotFoundError(`${name.name}/-/${file} is not in ${repo.name}`);
  if (tarballVersion(name, file) === undefined) throw notFound();
  const stored = await repo.assets.get(tarballPath(name, file));
  if (!stored) throw notFound();
  return assetResponse(stored);
}

/** `GET /<name>/-/<file>.tgz` on a proxy: from its cache, else from the upstream, verified against the upstream's document. */
export async function getUpstreamTarball(ctx: FormatRequestContext, repo: ProxyRepositoryHandle, name: PackageName, file: string): Promise<FormatResponse> {
  ctx.authorize('read', name.name);
  const upstream = repo.upstream;
  const path = tarballPath(name, file);
  // The upstream's document says which version the file is, where it is and what it must
  // hash to; it is read only on a miss (a hit is served straight from storage). The
  // abbreviated one says all that: it is the one an install has just read.
  const prepare = async (): Promise<UpstreamPreparation> => {
    const loaded = await loadUpstreamPackument(repo, name, ctx.baseUrl, 'abbreviated');
    const version = loaded && (await findVersion(loaded.value, (v) => servedTarballFile(name, v) === file));
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
  const result = await upstream.serve({ path, kind: 'content', contentType: 'application/octet-stream', maxBytes: ctx.repository.limits.maxUploadBytes * 4, prepare });
  if (!result.found) throw new NotFoundError(`${name.name}/-/${file} is not upstream`);
  return { body: result.body, cache: result.cache };
}

/** The first version `matches`, looking at them in slices that yield to the event loop (there may be tens of thousands). */
async function findVersion(doc: Packument, matches: (version: VersionDocument) => boolean): Promise<VersionDocument | undefined> {
  const pause = yielder();
  for (const version of Object.values(doc.versions)) {
    if (matches(version)) return version;
    if (pause.due()) await pause();
  }
  return undefined;
}
