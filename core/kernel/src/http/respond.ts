import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Context } from 'koa';
import type { Asset, CachePolicy, FormatResponse } from '@registry-core/api';
import { matchesEtag } from './hot-answers.js';
import { renderJsonYielding } from '../engine/yielding-stringify.js';
import { assetMemoryRef, assetRedirectUrl, internalRedirectPath, smallAssetBytes } from '../engine/asset-store.js';

/** An answer {@link writeResponse} marks as replayable: set in `ctx.state.hotAnswer`. */
export interface HotCandidate {
  readonly etag: string;
  /** Repository whose asset it is (for its hit counter); absent for a rendered document. */
  readonly repository?: string;
  readonly bytes: () => Buffer | readonly Buffer[] | undefined;
  /** A rendered document (metadata): replayed only within its repositories' metadata TTL. */
  readonly metadata?: boolean;
  /** Request headers (lower-case) the answer varies on (see HotAnswer.vary). */
  readonly vary?: readonly string[];
}

/**
 * Request headers a rendered document's URLs may be made from (the base URL follows the
 * request's origin unless `server.publicUrl` is set): its replays are kept apart by them.
 */
const ORIGIN_HEADERS = ['host', 'x-forwarded-host', 'x-forwarded-proto'];

/** A response header's value as one string (koa gives `undefined` for an absent one, an array for a repeated one). */
const headerText = (value: unknown): string => (Array.isArray(value) ? value.join(', ') : typeof value === 'string' ? value : value === undefined ? '' : String(value));

/** The request headers a `Vary` value names (lower-case), or `undefined` for `*` (replay nothing). */
function varyHeaders(vary: string): string[] | undefined {
  const names = vary.split(',').map((name) => name.trim().toLowerCase()).filter(Boolean);
  return names.includes('*') ? undefined : names;
}

/** Request header nginx sets to say it takes X-Accel-Redirect answers. */
const ACCEL_HEADER = 'X-Registry-Core-Accel';

const CACHE_CONTROL: Record<CachePolicy, string> = {
  immutable: 'public, max-age=31536000, immutable',
  metadata: 'public, max-age=0, must-revalidate',
  'no-store': 'no-store',
};

/**
 * Write a handler's {@link FormatResponse} to koa: ETag (sha256) and 304 for every GET
 * answer (`If-Modified-Since` too against a Last-Modified the handler gives), Range (206/416)
 * and Last-Modified for assets, X-Cache, Cache-Control, and HEAD
 * without opening any stream.
 */
const headerOf = (response: FormatResponse, name: string): string | undefined => Object.entries(response.headers ?? {}).find(([k]) => k.toLowerCase() === name)?.[1];

/**
 * A 304 when the request's If-None-Match holds `etag`, or, when it asks about no ETag, its
 * If-Modified-Since is not before the handler's own Last-Modified (a document's change time),
 * as for assets. Resolves whether it answered.
 */
function answerNotModified(ctx: Context, response: FormatResponse, etag: string): boolean {
  const lastModified = headerOf(response, 'last-modified');
  const ifNoneMatch = ctx.get('If-None-Match');
  const ifModifiedSince = ctx.get('If-Modified-Since');
  if (!(ifNoneMatch ? matchesEtag(ifNoneMatch, etag) : lastModified !== undefined && ifModifiedSince !== '' && Date.parse(ifModifiedSince) >= Date.parse(lastModified))) return false;
  ctx.status = 304;
  ctx.body = null;
  return true;
}

export async function writeResponse(ctx: Context, response: FormatResponse): Promise<void> {
  const status = response.status ?? 200;
  for (const [k, v] of Object.entries(response.headers ?? {})) ctx.set(k, v);
  if (response.cache) ctx.set('X-Cache', response.cache);
  // RFC 7234's warning for a copy served because the upstream could not be asked.
  if (response.cache === 'STALE') ctx.set('Warning', '111 registry-core "Revalidation Failed"');
  const body = response.body;
  const cacheable = status === 200 && (ctx.method === 'GET' || ctx.method === 'HEAD');
  if (!body) {
    ctx.body = null;
    ctx.status = status;
    // koa drops Content-Type and Content-Length when the body is set to null: a bodiless
    // answer's own (the size a HEAD announces) are set again after it.
    for (const [k, v] of Object.entries(response.headers ?? {})) if (/^content-(?:type|length)$/i.test(k)) ctx.set(k, v);
    return;
  }
  if (body.kind === 'asset') {
    const asset = body.asset;
    const policy = response.cachePolicy ?? (asset.kind === 'content' ? 'immutable' : 'metadata');
    if (cacheable) ctx.set('Cache-Control', CACHE_CONTROL[policy]);
    await writeAsset(ctx, asset, status);
    return;
  }
  if (body.kind === 'incoming') {
    // Still arriving from the upstream: no digest yet (no ETag, no 304) and no ranges; the
    // reader cuts the response short if the download or its verification fails.
    const incoming = body.incoming;
    // Until the first bytes are there, a failed download can still be a proper error answer.
    await incoming.ready();
    if (cacheable) ctx.set('Cache-Control', CACHE_CONTROL[response.cachePolicy ?? (incoming.kind === 'content' ? 'immutable' : 'metadata')]);
    ctx.status = status;
    ctx.type = incoming.contentType;
    if (ctx.method === 'HEAD') {
      ctx.body = null;
      ctx.status = status;
      ctx.type = incoming.contentType;
      if (incoming.size !== undefined) ctx.set('Content-Length', String(incoming.size));
      return;
    }
    ctx.body = incoming.open();
    if (incoming.size !== undefined) ctx.length = incoming.size;
    return;
  }
  if (body.kind === 'stream') {
    ctx.status = status;
    ctx.type = body.contentType;
    if (body.size !== undefined) ctx.length = body.size;
    // A stream has no digest to spare: ETag and 304 only when the handler gives its ETag.
    const given = headerOf(response, 'etag');
    if (cacheable && given !== undefined) {
      ctx.set('Cache-Control', CACHE_CONTROL[response.cachePolicy ?? 'metadata']);
      if (answerNotModified(ctx, response, given)) {
        body.value.destroy();
        return;
      }
    }
    if (ctx.method === 'HEAD') {
      body.value.destroy();
      return;
    }
    ctx.body = body.value;
    return;
  }
  let bytes: Buffer | readonly Buffer[];
  let type: string;
  let computedEtag: (() => string) | undefined;
  if (body.kind === 'json' || body.kind === 'rendered') {
    // JSON is serialised in slices that yield to the event loop (a large document holds no
    // other request for long), hashed on the way.
    const rendered = body.kind === 'rendered' ? body.rendered : await renderJsonYielding(body.value);
    bytes = rendered.chunks.length === 1 ? rendered.chunks[0]! : rendered.chunks;
    type = body.contentType ?? 'application/json; charset=utf-8';
    computedEtag = () => rendered.etag;
  } else if (body.kind === 'text') {
    bytes = Buffer.from(body.value, 'utf8');
    type = body.contentType;
  } else {
    bytes = body.value;
    type = body.contentType;
  }
  ctx.status = status;
  ctx.type = type;
  if (cacheable) {
    // A handler that caches its serialised answer may give its ETag and spare the hashing.
    const etag = headerOf(response, 'etag') ?? computedEtag?.() ?? `"${createHash('sha256').update(bytes as Buffer).digest('hex')}"`;
    ctx.set('ETag', etag);
    ctx.set('Cache-Control', CACHE_CONTROL[response.cachePolicy ?? 'metadata']);
    if (answerNotModified(ctx, response, etag)) return;
    // A document the kernel rendered and keeps (the derived memory): the host may replay this
    // answer (hot-answers.ts) while that memory holds it, keyed by the headers it varies on.
    const vary = body.kind === 'rendered' && status === 200 && ctx.method === 'GET' && response.cachePolicy !== 'no-store' ? varyHeaders(headerText(ctx.response.get('Vary'))) : undefined;
    if (body.kind === 'rendered' && vary) {
      const kept = new WeakRef(body.rendered);
      ctx.state['hotAnswer'] = { etag, bytes: () => kept.deref()?.chunks, metadata: true, vary: [...vary, ...ORIGIN_HEADERS] } satisfies HotCandidate;
    }
  }
  if (Buffer.isBuffer(bytes)) {
    ctx.body = bytes;
    return;
  }
  // Chunks (a large rendered document): streamed as they are, never joined into one copy.
  const chunks = bytes as readonly Buffer[];
  ctx.body = Readable.from(chunks, { objectMode: false });
  ctx.length = chunks.reduce((n, chunk) => n + chunk.length, 0);
}


async function writeAsset(ctx: Context, asset: Asset, status: number): Promise<void> {
  const etag = `"${asset.digests.sha256}"`;
  ctx.set('ETag', etag);
  ctx.set('Last-Modified', asset.updatedAt.toUTCString());
  ctx.set('Accept-Ranges', 'bytes');
  ctx.type = asset.contentType;
  const ifNoneMatch = ctx.get('If-None-Match');
  const ifModifiedSince = ctx.get('If-Modified-Since');
  if (status === 200 && (ifNoneMatch ? matchesEtag(ifNoneMatch, etag) : ifModifiedSince && Date.parse(ifModifiedSince) >= Math.floor(asset.updatedAt.getTime() / 1000) * 1000)) {
    ctx.status = 304;
    ctx.body = null;
    return;
  }
  let range: { start: number; end: number } | 'unsatisfiable' | undefined;
  const rangeHeader = ctx.get('Range');
  const ifRange = ctx.get('If-Range');
  if (status === 200 && rangeHeader && (!ifRange || ifRange === etag)) range = parseRange(rangeHeader, asset.size);
  if (range === 'unsatisfiable') {
    // body first: koa turns a null body into 204 unless the status is set after it.
    ctx.body = null;
    ctx.status = 416;
    ctx.set('Content-Range', `bytes */${asset.size}`);
    return;
  }
  const length = range ? range.end - range.start + 1 : asset.size;
  if (range) ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${asset.size}`);
  if (ctx.method === 'HEAD') {
    // null first (koa drops type and length then), headers after: koa keeps an explicit
    // Content-Length on HEAD, and no stream is opened.
    ctx.body = null;
    ctx.status = range ? 206 : status;
    ctx.type = asset.contentType;
    ctx.set('Content-Length', String(length));
    return;
  }
  const accel = ctx.get(ACCEL_HEADER) === 'on' ? internalRedirectPath(asset) : undefined;
  if (accel !== undefined) {
    // nginx in front said it can send the file itself (the snippet in docs/nginx.md): hand
    // it the blob's location; it applies the range and streams with sendfile.
    ctx.remove('Content-Range');
    ctx.set('X-Accel-Redirect', accel);
    ctx.body = '';
    ctx.status = status;
    ctx.type = asset.contentType;
    return;
  }
  const redirect = status === 200 ? await assetRedirectUrl(asset) : undefined;
  if (redirect !== undefined) {
    // The storage sends large files itself (storage.<name>.redirect): a short-lived
    // presigned URL, so the answer must not be cached; the client resends its Range there.
    ctx.remove('Content-Range');
    ctx.remove('ETag');
    ctx.remove('Last-Modified');
    ctx.remove('Accept-Ranges');
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(redirect);
    ctx.status = 307;
    return;
  }
  ctx.status = range ? 206 : status;
  // Small files come from memory (content-addressed, so never stale).
  const bytes = await smallAssetBytes(asset);
  if (bytes) {
    ctx.body = range ? bytes.subarray(range.start, range.end + 1) : bytes;
    ctx.type = asset.contentType;
    // A whole immutable file from memory: the host may replay this answer (hot-answers.ts).
    const ref = assetMemoryRef(asset);
    if (!range && status === 200 && asset.kind === 'content' && ref && !ctx.response.get('Vary') && !/no-store/i.test(ctx.response.get('Cache-Control'))) {
      ctx.state['hotAnswer'] = { etag, repository: ref.repository, bytes: ref.bytes } satisfies HotCandidate;
    }
    return;
  }
  // Opened only here, so HEAD and 304 never touch storage; koa destroys it if the client goes away.
  ctx.body = await asset.open(range);
  ctx.length = length;
}

/** One byte range per RFC 9110 (several ranges: the whole body is served instead). */
export function parseRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  const [, a, b] = m as unknown as [string, string, string];
  if (a === '' && b === '') return undefined;
  let start: number;
  let end: number;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
    if (Number(b) < start && b !== '') return undefined;
  }
  if (start >= size || size === 0) return 'unsatisfiable';
  return { start, end };
}
