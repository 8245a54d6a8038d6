import { createHash } from 'node:crypto';
import { Readable, Transform, pipeline } from 'node:stream';
import { init as initZstd, compress as zstdCompress } from '@bokuweb/zstd-wasm';
import {
  BadRequestError,
  NotFoundError,
  assetResponse,
  jsonResponse,
  renderedResponse,
  serveDocument,
  type HandlersByKind,
  type FormatDefinition,
  type FormatRequestContext,
  type FormatResponse,
  type CacheStatus,
  type LoadedDocument,
  type MergeableDocument,
  type MultipartBody,
  type RepositoryInfo,
  type RouteDefinition,
  routeParam,
  type ClientSettingsFile,
} from '@registry-core/api';
import { loadChannel, loadHostedRepodata, packagePath, removePackage, upload, uploadedFile, type ChannelDocument, type ChannelPackage } from './hosted.js';
import { isChannelName, isValidName, isValidSubdir, parsePackageFilename, tryParseChannelFilename, validateSubdir } from './names.js';
import { MAX_REPODATA_BYTES, getProxyPackage, loadUpstreamChannel, loadUpstreamRepodata } from './proxy.js';
import { bzip2Compressor } from './bzip2.js';
import { condaDefaultUpstreams } from './condarc.js';
import { emptyRepodata } from './repodata.js';
import { collectRepodata, mergeSources, streamRepodata, upstreamNames, type RepodataSource } from './repodata-stream.js';
import { mirrorCommand } from './mirror-command.js';
import { uploadCommand } from './upload-command.js';
import { downloadOf } from './downloads.js';
import { condaInstallLines, condaPackageView } from './package-view.js';


function param(ctx: FormatRequestContext, key: string): string {
  return routeParam(ctx, key) ?? '';
}

/** The subdir a path names; a name that cannot be one is a 404 (never a lookup). */
function subdirOf(ctx: FormatRequestContext): string {
  const subdir = param(ctx, 'subdir');
  if (!isValidSubdir(subdir)) throw new NotFoundError(`${JSON.stringify(subdir)} is not a conda subdir`);
  return subdir;
}

/**
 * One repository's repodata of a subdir: where its records come from (a hosted repository's
 * stored document, an upstream's cached one never parsed whole), and whether it is a hosted
 * repository's (for the group's hosted-first rule).
 */
interface SubdirDocument {
  readonly sources: readonly RepodataSource[];
  readonly hosted: boolean;
  /** Epoch milliseconds of the last change, for Last-Modified. */
  readonly modified?: number;
}

function repodataDocument(render: (ctx: FormatRequestContext, document: LoadedDocument<SubdirDocument>) => Promise<FormatResponse>): MergeableDocument<SubdirDocument> {
  return {
    async hosted(ctx, repo) {
      const subdir = subdirOf(ctx);
      const stored = await loadHostedRepodata(repo, subdir);
      // Every subdir a client may ask for exists, empty when nothing was uploaded to it
      // (conda refuses a channel without noarch/repodata.json).
      if (!stored) return { value: { sources: [{ repodata: emptyRepodata(subdir), hosted: true }], hosted: true }, revision: 'empty' };
      return { value: { sources: [{ repodata: { ...stored.value, repodata_version: 1 }, hosted: true }], hosted: true, modified: stored.updatedAt.getTime() }, revision: `r${stored.revision}` };
    },
    async proxy(ctx, repo) {
      const subdir = subdirOf(ctx);
      const loaded = await loadUpstreamRepodata(repo, repo.upstream, subdir);
      if (!loaded) throw new NotFoundError(`${subdir}/repodata.json is not upstream`);
      // Checked whole once per revision before any answer streams from it (see upstreamNames).
      const held = await upstreamNames(repo, loaded);
      return { value: { sources: [{ upstream: loaded, held, hosted: false }], hosted: false, modified: loaded.modified.getTime() }, cache: loaded.cache, revision: `u${loaded.revision}` };
    },
    async merge(documents, ctx, sources) {
      const modified = Math.max(0, ...documents.map((d) => d.modified ?? 0));
      const merged = await mergeSources(ctx.repository, documents.flatMap((d) => d.sources), sources);
      return { sources: merged, hosted: documents.some((d) => d.hosted), ...(modified > 0 ? { modified } : {}) };
    },
    render,
  };
}

function lastModified(modified: number | undefined): Record<string, string> {
  return modified ? { 'last-modified': new Date(modified).toUTCString() } : {};
}

/** Whether any source is an upstream's document (streamed, never held: see {@link streamRepodata}). */
const streamed = (document: LoadedDocument<SubdirDocument>) => document.value.sources.some((s) => s.upstream);

/** Hosted sources only: the document in memory, rendered once per revision (with its ETag). */
async function renderRepodata(ctx: FormatRequestContext, document: LoadedDocument<SubdirDocument>) {
  const subdir = subdirOf(ctx);
  const key = document.revision !== undefined ? `repodata/${subdir}/${document.revision}` : undefined;
  const repodata = await collectRepodata(document.value.sources, subdir);
  return ctx.repository.derived.renderJson(key, () => repodata);
}

function headersOf(document: LoadedDocument<SubdirDocument>) {
  return { headers: lastModified(document.value.modified), ...(document.cache ? { cache: document.cache } : {}) };
}

const repodataJson = repodataDocument(async (ctx, document) => {
  if (!streamed(document)) return renderedResponse(await renderRepodata(ctx, document), headersOf(document));
  const subdir = subdirOf(ctx);
  // The revision covers the upstream bytes and (for a group) every member's: a strong ETag of it, so 304s need no read.
  const etag: Record<string, string> = document.revision !== undefined ? { etag: `"${createHash('sha256').update(`conda-repodata-v1\0${subdir}\0${document.revision}`).digest('hex')}"` } : {};
  const { headers, ...rest } = headersOf(document);
  return { ...rest, headers: { ...headers, ...etag }, body: { kind: 'stream', value: streamRepodata(document.value.sources, subdir), contentType: 'application/json' } };
});

/**
 * Upstream documents up to this many bytes in all get a `repodata.json.zst` (compressed in
 * memory once per revision) and a `repodata.json.bz2`; above it both are 404s and clients
 * read `repodata.json`, streamed.
 */
export const MAX_ZST_SOURCE_BYTES = 32 * 1024 * 1024;

let zstdReady: Promise<void> | undefined;

/** `repodata.json.zst`: the JSON compressed once per revision (what conda 24+, mamba 2 and rattler ask for first). */
const repodataZst = repodataDocument(async (ctx, document) => {
  let key: string | undefined;
  let text: () => Promise<Buffer>;
  if (!streamed(document)) {
    const rendered = await renderRepodata(ctx, document);
    key = `repodata-zst/${rendered.etag}`;
    text = async () => Buffer.concat(rendered.chunks as Buffer[]);
  } else {
    const upstreamBytes = document.value.sources.reduce((sum, s) => sum + (s.upstream?.asset.size ?? 0), 0);
    if (upstreamBytes > MAX_ZST_SOURCE_BYTES) throw new NotFoundError(`${subdirOf(ctx)}/repodata.json.zst is not made of a document this large: read repodata.json`);
    key = document.revision !== undefined ? `repodata-zst/${subdirOf(ctx)}/${document.revision}` : undefined;
    text = async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of streamRepodata(document.value.sources, subdirOf(ctx))) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    };
  }
  let compressed = key !== undefined ? ctx.repository.derived.get<Buffer>(key) : undefined;
  if (!compressed) {
    const bytes = await text();
    await (zstdReady ??= initZstd());
    compressed = Buffer.from(zstdCompress(bytes, 10));
    if (key !== undefined) ctx.repository.derived.set(key, compressed, compressed.length);
  }
  return { ...headersOf(document), body: { kind: 'buffer', value: compressed, contentType: 'application/zstd' } };
});

/** Compressed `repodata.json.bz2` up to this size is kept in the derived cache (larger: compressed for each 200). */
export const MAX_BZ2_CACHED_BYTES = 32 * 1024 * 1024;

/** Revisions being compressed to `.bz2` (repository and cache key): one compression each at a time. */
const bz2Running = new Map<string, Promise<void>>();

/**
 * `repodata.json.bz2` (what older conda versions, and tools and mirrors of that age, ask for):
 * the JSON through the streaming encoder ({@link bzip2Compressor}, memory one block), never
 * held whole uncompressed. Its ETag is made of the JSON's (a hosted document's sha256, an
 * upstream's revision), so a revalidation is a 304 without compressing; the compressed bytes
 * are kept in the derived cache per revision when they fit.
 */
const repodataBz2 = repodataDocument(async (ctx, document) => {
  const subdir = subdirOf(ctx);
  let tag: string | undefined;
  let json: () => Readable;
  if (!streamed(document)) {
    const rendered = await renderRepodata(ctx, document);
    tag = rendered.etag;
    json = () => Readable.from(rendered.chunks, { objectMode: false });
  } else {
    // As for .zst: clients that find no .zst take .bz2 before repodata.json (rattler, pixi),
    // and compressing hundreds of MB (at a few MB per CPU second) for each upstream revision
    // would make them wait minutes where the JSON streams at once.
    const upstreamBytes = document.value.sources.reduce((sum, s) => sum + (s.upstream?.asset.size ?? 0), 0);
    if (upstreamBytes > MAX_ZST_SOURCE_BYTES) throw new NotFoundError(`${subdir}/repodata.json.bz2 is not made of a document this large: read repodata.json`);
    tag = document.revision !== undefined ? `${subdir}\0${document.revision}` : undefined;
    json = () => streamRepodata(document.value.sources, subdir);
  }
  const { headers, ...rest } = headersOf(document);
  const etag = tag !== undefined ? `"${createHash('sha256').update(`conda-repodata-bz2-v1\0${tag}`).digest('hex')}"` : undefined;
  const withTag = { ...rest, headers: { ...headers, ...(etag ? { etag } : {}) } };
  const key = etag !== undefined ? `repodata-bz2/${etag}` : undefined;
  const running = key !== undefined ? `${ctx.repository.name}\0${key}` : undefined;
  // A revision being compressed for another request: wait for it, then answer from the cache.
  const before = running !== undefined ? bz2Running.get(running) : undefined;
  if (before) await before;
  const cached = key !== undefined ? ctx.repository.derived.get<Buffer>(key) : undefined;
  if (cached) return { ...withTag, body: { kind: 'buffer', value: cached, contentType: 'application/x-bzip2' } };
  let done = () => {};
  if (running !== undefined && !bz2Running.has(running)) {
    bz2Running.set(running, new Promise<void>((resolve) => (done = resolve)));
    const resolve = done;
    done = () => {
      bz2Running.delete(running);
      resolve();
    };
  }
  // Pass the compressed bytes on, and keep them once complete when they fit.
  const kept: Buffer[] = [];
  let size = 0;
  const keep = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      if (size <= MAX_BZ2_CACHED_BYTES) kept.push(chunk);
      callback(null, chunk);
    },
    flush(callback) {
      if (key !== undefined && size <= MAX_BZ2_CACHED_BYTES) ctx.repository.derived.set(key, Buffer.concat(kept), size);
      kept.length = 0;
      callback();
    },
  });
  // Started when read (a 304 compresses nothing); ended, failed or dropped (a client gone),
  // others waiting go on.
  const body = Readable.from(
    (async function* () {
      yield* pipeline(json(), bzip2Compressor(), keep, () => {});
    })(),
    { objectMode: false },
  );
  body.once('close', () => done());
  return { ...withTag, body: { kind: 'stream', value: body, contentType: 'application/x-bzip2' } };
});

/** `channeldata.json`: per package name its subdirs and latest version. */
const channelData: MergeableDocument<ChannelDocument> = {
  async hosted(_ctx, repo) {
    const stored = await loadChannel(repo);
    return { value: stored?.value ?? { subdirs: ['noarch'], packages: {} }, revision: stored ? `r${stored.revision}` : 'empty' };
  },
  async proxy(_ctx, repo) {
    const loaded = await loadUpstreamChannel(repo, repo.upstream);
    if (!loaded) throw new NotFoundError('channeldata.json is not upstream');
    return { value: loaded.channel, cache: loaded.cache, revision: `u${loaded.revision}` };
  },
  merge(documents, _ctx, sources) {
    // Per name, the entry of the first member the group serves the name from (the kernel's rule, as for repodata).
    const holders = new Map<string, number[]>();
    documents.forEach((d, i) => {
      for (const name of Object.keys(d.packages)) holders.set(name, [...(holders.get(name) ?? []), i]);
    });
    const packages: Record<string, ChannelPackage> = {};
    for (const [name, held] of holders) {
      const from = sources ? sources.servedFrom(name, held)[0] : held[0];
      if (from !== undefined) packages[name] = documents[from]!.packages[name]!;
    }
    return { subdirs: [...new Set(documents.flatMap((d) => d.subdirs))].sort(), packages };
  },
  async render(ctx, { value, revision, cache }) {
    const subdirs = [...new Set(['noarch', ...value.subdirs])].sort();
    const rendered = await ctx.repository.derived.renderJson(revision !== undefined ? `channeldata/${revision}` : undefined, () => ({ channeldata_version: 1, packages: value.packages, subdirs }));
    return renderedResponse(rendered, cache ? { cache } : {});
  },
};

/**
 * `GET /-/package/<name>`: what a repository says of one package name (its `channeldata.json`
 * entry: subdirs, latest version), 404 when it has none. A proxy answers from the upstream's
 * `channeldata.json` (cached as metadata): the kernel asks it before a name new to a hosted
 * repository is uploaded (FormatDefinition.packageDocumentPath), so that a hosted name never
 * silently shadows an upstream's. An upstream without `channeldata.json` cannot say: 404.
 */
const packageInfo: HandlersByKind = {
  async hosted(ctx, repo) {
    const name = readablePackageName(ctx);
    return packageEntry(ctx, name, (await loadChannel(repo))?.value.packages[name]);
  },
  async proxy(ctx, repo) {
    const name = readablePackageName(ctx);
    const loaded = await loadUpstreamChannel(repo, repo.upstream);
    return packageEntry(ctx, name, loaded?.channel.packages[name], loaded?.cache);
  },
};

function readablePackageName(ctx: FormatRequestContext): string {
  const name = param(ctx, 'name');
  if (!isChannelName(name)) throw new NotFoundError(`${JSON.stringify(name)} is not a conda package name`);
  ctx.authorize('read', name);
  return name;
}

function packageEntry(ctx: FormatRequestContext, name: string, entry: ChannelPackage | undefined, cache?: CacheStatus): FormatResponse {
  if (!entry || typeof entry !== 'object') throw new NotFoundError(`${name} is not in ${ctx.repository.name}`);
  return jsonResponse({ name, ...entry }, cache ? { cache } : {});
}

/** The package file a request names, once the caller may read its package. */
function readablePackageFile(ctx: FormatRequestContext): { subdir: string; filename: string } {
  const subdir = subdirOf(ctx);
  const filename = param(ctx, 'filename');
  const parsed = tryParseChannelFilename(filename);
  if (!parsed) throw new NotFoundError(`${subdir}/${filename} is not a conda package file`);
  ctx.authorize('read', parsed.name);
  return { subdir, filename };
}

/** `GET /<subdir>/<file>`: a package file. */
const getPackage: HandlersByKind = {
  async hosted(ctx, repo) {
    const { subdir, filename } = readablePackageFile(ctx);
    const stored = await repo.assets.get(packagePath(subdir, filename));
    if (!stored) throw new NotFoundError(`${subdir}/${filename} is not in ${repo.name}`);
    return assetResponse(stored);
  },
  async proxy(ctx, repo) {
    const { subdir, filename } = readablePackageFile(ctx);
    return getProxyPackage(ctx, repo.upstream, subdir, filename);
  },
};

/** The package a group's request is about: the name in the file name. */
function packagePlan(ctx: FormatRequestContext) {
  const parsed = tryParseChannelFilename(param(ctx, 'filename'));
  if (!parsed) throw new NotFoundError(`${param(ctx, 'filename')} is not a conda package file`);
  return { serve: 'package' as const, package: parsed.name };
}

function removalTarget(body: unknown): { subdir: string; filename: string } {
  const b = (body ?? {}) as { subdir?: unknown; filename?: unknown };
  if (typeof b.subdir !== 'string' || typeof b.filename !== 'string') throw new BadRequestError('give "subdir" and "filename"');
  validateSubdir(b.subdir);
  parsePackageFilename(b.filename);
  return { subdir: b.subdir, filename: b.filename };
}

const uploadRoute: RouteDefinition = {
  method: 'POST',
  path: '/-/upload',
  permission: 'write',
  body: { kind: 'multipart' },
  async handler(ctx) {
    const done = await upload(ctx);
    return jsonResponse({ ok: true, subdir: done.subdir, filename: done.filename, sha256: done.record.sha256, md5: done.record.md5, size: done.record.size }, { status: 201, cachePolicy: 'no-store' });
  },
  group: (ctx) => ({ serve: 'package', package: uploadedFile(ctx.body as MultipartBody).parsed.name }),
};

/** Hosted and proxy repositories always have a channel's documents (or throw saying why): never reached on them. */
const missingDocument = (ctx: FormatRequestContext) => new NotFoundError(`${ctx.path} is not in ${ctx.repository.name}`);

const routes: RouteDefinition[] = [
  {
    method: 'GET',
    path: '/channeldata.json',
    permission: 'read',
    handler: serveDocument(channelData, missingDocument),
    group: () => ({ serve: 'members', merge: channelData }),
  },
  ...['/:subdir/repodata.json', '/:subdir/current_repodata.json'].map(
    (path): RouteDefinition => ({
      method: 'GET',
      path,
      permission: 'read',
      handler: serveDocument(repodataJson, missingDocument),
      group: (ctx) => (subdirOf(ctx), { serve: 'members', merge: repodataJson }),
    }),
  ),
  {
    method: 'GET',
    path: '/:subdir/repodata.json.zst',
    permission: 'read',
    handler: serveDocument(repodataZst, missingDocument),
    group: (ctx) => (subdirOf(ctx), { serve: 'members', merge: repodataZst }),
  },
  {
    method: 'GET',
    path: '/:subdir/repodata.json.bz2',
    permission: 'read',
    handler: serveDocument(repodataBz2, missingDocument),
    group: (ctx) => (subdirOf(ctx), { serve: 'members', merge: repodataBz2 }),
  },
  { method: 'GET', path: '/-/package/:name', permission: 'read', handler: packageInfo, group: (ctx) => ({ serve: 'package', package: param(ctx, 'name') }) },
  { method: 'GET', path: '/:subdir/:filename', permission: 'read', handler: getPackage, group: packagePlan },
  uploadRoute,
  {
    method: 'DELETE',
    path: '/:subdir/:filename',
    permission: 'delete',
    async handler(ctx) {
      await removePackage(ctx, subdirOf(ctx), param(ctx, 'filename'), 'delete');
      return jsonResponse({ deleted: `${param(ctx, 'subdir')}/${param(ctx, 'filename')}` }, { cachePolicy: 'no-store' });
    },
    group: packagePlan,
  },
  {
    method: 'POST',
    path: '/-/mark-broken',
    permission: 'delete',
    body: { kind: 'json', limit: 64 * 1024 },
    async handler(ctx) {
      const target = removalTarget(ctx.body);
      await removePackage(ctx, target.subdir, target.filename, 'broken');
      return jsonResponse({ broken: `${target.subdir}/${target.filename}` }, { cachePolicy: 'no-store' });
    },
    group: (ctx) => ({ serve: 'package', package: parsePackageFilename(removalTarget(ctx.body).filename).name }),
  },
];

function clientConfig(repo: RepositoryInfo): string[] {
  const channel = repo.url.replace(/\/$/, '');
  // What the repository's name is appended to (the server's URL, with any path prefix it is served under).
  const root = channel.slice(0, channel.length - encodeURIComponent(repo.name).length).replace(/\/$/, '');
  const lines = [
    `.condarc: channels: [${channel}]  (or channel_alias: ${root} and channels: [${repo.name}]; or custom_channels: {${repo.name}: ${root}})`,
    `conda install --override-channels -c ${channel} <package>  |  micromamba create -c ${channel} -n env <package>`,
    `pixi: channels = ["${channel}"]`,
  ];
  if (repo.takesWrites) lines.push(`registry-core conda upload <files> --repository ${repo.name} --token <token>  |  curl -H "Authorization: Bearer <token>" -F file=@<package>.conda ${repo.url}-/upload`);
  return lines;
}

/**
 * `~/.condarc`: the repository's channel URL added to `channels`. No token: conda channels
 * are read anonymously here (uploads go through `registry-core conda upload` or curl).
 */
function clientSettings(repo: RepositoryInfo): ClientSettingsFile[] {
  return [{ client: 'conda', path: '.condarc', syntax: 'yaml', settings: [{ key: 'channels', value: repo.url.replace(/\/$/, ''), listItem: true }] }];
}

export const condaFormat: FormatDefinition = {
  downloadOf,
  id: 'conda',
  routes,
  commands: [uploadCommand, mirrorCommand],
  clientConfig,
  clientSettings,
  packageView: condaPackageView,
  installLines: condaInstallLines,
  defaultUpstream: () => condaDefaultUpstreams(),
  maxMetadataBytes: MAX_REPODATA_BYTES,
  // Repodata v2's base_url may put a channel's files anywhere on the upstream's host
  // (another host: cache.allowedOrigins).
  upstreamScope: () => ({ basePath: '/' }),
  packageDocumentPath: (name) => (isValidName(name) ? `/-/package/${encodeURIComponent(name)}` : undefined),
};
