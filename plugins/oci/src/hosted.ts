import type { Readable } from 'node:stream';
import {
  DELETE_DOCUMENT,
  isRegistryError,
  readSmallBody,
  type Asset,
  type FormatRequestContext,
  type FormatResponse,
  type RepositoryHandle,
} from '@registry-core/api';
import { syncComponents } from './components.js';
import { withImageLock } from './gc.js';
import { MAX_MANIFEST_BYTES, digestOf, parseManifest, type ParsedManifest } from './manifest.js';
import { checkTag, documents, imageName, isDigest, parseDigest, paths, type Digest } from './names.js';
import { blobLocation, manifestLocation, ociError, referrersIndex, uploadAccepted, unsupported } from './responses.js';

/** Tags of one image: tag → digest text. */
export interface TagsDocument {
  readonly tags: Record<string, string>;
}

/** The images of a repository, for the catalog. */
export interface CatalogDocument {
  readonly images: string[];
}

/** Manifests that name one subject, as referrers descriptors. */
export interface ReferrersDocument {
  readonly descriptors: Record<string, unknown>[];
}

/** What a stored manifest's asset records (for referrers and garbage collection). */
export interface ManifestAttributes {
  readonly mediaType: string;
  readonly references: readonly string[];
  readonly subject?: string;
  readonly artifactType?: string;
  readonly annotations?: Record<string, string>;
}

export function deletesAllowed(repository: RepositoryHandle): boolean {
  return repository.config['allowDelete'] !== false;
}

function requireDeletes(ctx: FormatRequestContext): void {
  if (!deletesAllowed(ctx.repository)) throw unsupported(`deletes are disabled in ${ctx.repository.name}`);
}

/** The manifest asset `reference` (a tag or a digest) names in a hosted repository. */
export async function hostedManifest(repository: RepositoryHandle, image: string, reference: string): Promise<Asset | undefined> {
  if (isDigest(reference)) return repository.assets.get(paths.manifest(image, parseDigest(reference)));
  checkTag(reference);
  const tags = await repository.documents.get<TagsDocument>(documents.tags(image));
  const digest = tags?.value.tags[reference];
  return digest ? repository.assets.get(paths.manifest(image, parseDigest(digest))) : undefined;
}

export function manifestResponse(asset: Asset, digest: Digest, cache?: FormatResponse['cache']): FormatResponse {
  return {
    body: { kind: 'asset', asset },
    // A manifest is chosen by the client's Accept (an index, a manifest, Docker's or OCI's
    // types). The Vary also keeps the host from replaying the answer by URL alone (its hot
    // answers keep neither Docker-Content-Digest nor X-Registry-Member, nor see no-store).
    headers: { 'Docker-Content-Digest': digest.text, ETag: `"${digest.text}"`, Vary: 'Accept' },
    // Tags move: only digests are immutable.
    cachePolicy: 'no-store',
    ...(cache ? { cache } : {}),
  };
}

export function blobResponse(asset: Asset, digest: Digest, cache?: FormatResponse['cache']): FormatResponse {
  return { body: { kind: 'asset', asset }, headers: { 'Docker-Content-Digest': digest.text }, cachePolicy: 'immutable', ...(cache ? { cache } : {}) };
}

/** Digest of a stored manifest asset, from its path. */
function assetDigest(asset: Asset): Digest {
  const m = /\/_manifests\/(sha256|sha512)\/([a-f0-9]+)$/.exec(asset.path);
  return m ? parseDigest(`${m[1]}:${m[2]}`) : parseDigest(`sha256:${asset.digests.sha256}`);
}

export async function getManifest(ctx: FormatRequestContext, image: string, reference: string): Promise<FormatResponse> {
  const asset = await hostedManifest(ctx.repository, image, reference);
  if (!asset) throw ociError('MANIFEST_UNKNOWN', `manifest ${reference} of ${image} is unknown`, 404);
  return manifestResponse(asset, assetDigest(asset));
}

/** Check that what a manifest references is in the image (blobs; child manifests of an index). */
async function checkReferences(repository: RepositoryHandle, image: string, manifest: ParsedManifest): Promise<void> {
  for (const ref of manifest.references) {
    if (ref.foreign) continue;
    const asset = await repository.assets.get(manifest.kind === 'index' ? paths.manifest(image, ref.digest) : paths.blob(image, ref.digest));
    if (!asset) {
      throw ociError('MANIFEST_BLOB_UNKNOWN', `manifest references ${manifest.kind === 'index' ? 'manifest' : 'blob'} ${ref.digest.text}, which ${image} does not have`, 400);
    }
    if (asset.size !== ref.size) throw ociError('MANIFEST_INVALID', `manifest says ${ref.digest.text} is ${ref.size} bytes; it is ${asset.size}`, 400);
  }
}

export async function putManifest(ctx: FormatRequestContext, image: string, reference: string): Promise<FormatResponse> {
  const repository = ctx.repository;
  const bytes = await readSmallBody(ctx.body as Readable, MAX_MANIFEST_BYTES, 'manifest');
  const byDigest = isDigest(reference);
  const given = byDigest ? parseDigest(reference) : undefined;
  const tags = [...(byDigest ? [] : [checkTag(reference)]), ...ctx.query.getAll('tag').map(checkTag)];
  const digest = digestOf(bytes, given?.algorithm ?? 'sha256');
  if (given && given.text !== digest.text) throw ociError('DIGEST_INVALID', `the manifest's digest is ${digest.text}, not ${given.text}`, 400);
  const manifest = parseManifest(bytes, ctx.headers['content-type']);
  const attributes: ManifestAttributes = {
    mediaType: manifest.mediaType,
    references: manifest.references.map((r) => r.digest.text),
    ...(manifest.subject ? { subject: manifest.subject.digest.text } : {}),
    ...(manifest.artifactType ? { artifactType: manifest.artifactType } : {}),
    ...(manifest.annotations ? { annotations: manifest.annotations } : {}),
  };
  const path = paths.manifest(image, digest);
  // Checked and stored under the image's lock, which garbage collection takes too: a blob
  // is never collected between the check and the manifest that references it.
  await withImageLock(repository, image, async () => {
    await checkReferences(repository, image, manifest);
    const existing = await repository.assets.get(path);
    if (!existing) await repository.assets.put(path, bytes, { kind: 'content', contentType: manifest.mediaType, attributes: { ...attributes } });
  });
  if (tags.length > 0) {
    await repository.documents.update<TagsDocument>(documents.tags(image), (current) => {
      const next = { ...(current?.tags ?? {}) };
      for (const tag of tags) next[tag] = digest.text;
      return { tags: next };
    });
  }
  if (manifest.subject) {
    const descriptor = {
      mediaType: manifest.mediaType,
      digest: digest.text,
      size: bytes.length,
      ...(manifest.artifactType ?? manifest.configMediaType ? { artifactType: manifest.artifactType ?? manifest.configMediaType } : {}),
      ...(manifest.annotations ? { annotations: manifest.annotations } : {}),
    };
    await repository.documents.update<ReferrersDocument>(documents.referrers(image, manifest.subject.digest), (current) => {
      const others = (current?.descriptors ?? []).filter((d) => d['digest'] !== digest.text);
      return { descriptors: [...others, descriptor] };
    });
  }
  await repository.documents.update<CatalogDocument>(documents.catalog, (current) => {
    if (current?.images.includes(image)) return current;
    return { images: [...(current?.images ?? []), image].sort() };
  });
  await withImageLock(repository, image, () => syncComponents(repository, image));
  await ctx.audit('push', { package: image, version: tags[0] ?? digest.text, details: { digest: digest.text, mediaType: manifest.mediaType } });
  return {
    status: 201,
    headers: {
      Location: manifestLocation(ctx, image, digest),
      'Docker-Content-Digest': digest.text,
      ...(manifest.subject ? { 'OCI-Subject': manifest.subject.digest.text } : {}),
      'Content-Length': '0',
    },
    cachePolicy: 'no-store',
  };
}

export async function deleteManifest(ctx: FormatRequestContext, image: string, reference: string): Promise<FormatResponse> {
  requireDeletes(ctx);
  const repository = ctx.repository;
  if (!isDigest(reference)) {
    checkTag(reference);
    let found = false;
    await repository.documents.update<TagsDocument>(documents.tags(image), (current) => {
      if (!current?.tags[reference]) return current ?? DELETE_DOCUMENT;
      found = true;
      const { [reference]: _gone, ...rest } = current.tags;
      return { tags: rest };
    });
    if (!found) throw ociError('MANIFEST_UNKNOWN', `tag ${reference} of ${image} is unknown`, 404);
    await withImageLock(repository, image, () => syncComponents(repository, image));
    await ctx.audit('untag', { package: image, version: reference });
    return { status: 202, headers: { 'Content-Length': '0' }, cachePolicy: 'no-store' };
  }
  const digest = parseDigest(reference);
  const asset = await repository.assets.get(paths.manifest(image, digest));
  if (!asset) throw ociError('MANIFEST_UNKNOWN', `manifest ${digest.text} of ${image} is unknown`, 404);
  // Tags that point at it go with it.
  await repository.documents.update<TagsDocument>(documents.tags(image), (current) => {
    if (!current) return DELETE_DOCUMENT;
    const kept = Object.fromEntries(Object.entries(current.tags).filter(([, d]) => d !== digest.text));
    return Object.keys(kept).length === Object.keys(current.tags).length ? current : { tags: kept };
  });
  const subject = (asset.attributes as Partial<ManifestAttributes>).subject;
  if (subject) {
    await repository.documents.update<ReferrersDocument>(documents.referrers(image, parseDigest(subject)), (current) => {
      if (!current) return DELETE_DOCUMENT;
      const kept = current.descriptors.filter((d) => d['digest'] !== digest.text);
      return kept.length === 0 ? DELETE_DOCUMENT : { descriptors: kept };
    });
  }
  await repository.assets.delete(asset.path);
  await withImageLock(repository, image, () => syncComponents(repository, image));
  const left = await repository.assets.list(paths.manifests(image), { limit: 1 });
  if (left.assets.length === 0) {
    await repository.documents.update<CatalogDocument>(documents.catalog, (current) =>
      current && current.images.includes(image) ? { images: current.images.filter((i) => i !== image) } : (current ?? DELETE_DOCUMENT),
    );
  }
  await ctx.audit('delete', { package: image, version: digest.text });
  return { status: 202, headers: { 'Content-Length': '0' }, cachePolicy: 'no-store' };
}

export async function tagsOf(repository: RepositoryHandle, image: string): Promise<string[] | undefined> {
  const doc = await repository.documents.get<TagsDocument>(documents.tags(image));
  if (doc) return Object.keys(doc.value.tags);
  const any = await repository.assets.list(paths.manifests(image), { limit: 1 });
  return any.assets.length > 0 ? [] : undefined;
}

export async function referrersOf(repository: RepositoryHandle, image: string, subject: Digest): Promise<Record<string, unknown>[]> {
  const doc = await repository.documents.get<ReferrersDocument>(documents.referrers(image, subject));
  return doc?.value.descriptors ?? [];
}

export function filterReferrers(descriptors: readonly Record<string, unknown>[], artifactType: string | null): FormatResponse {
  const filtered = artifactType ? descriptors.filter((d) => d['artifactType'] === artifactType) : descriptors;
  return referrersIndex(filtered, !!artifactType);
}

export async function catalogOf(repository: RepositoryHandle): Promise<string[]> {
  return (await repository.documents.get<CatalogDocument>(documents.catalog))?.value.images ?? [];
}

// ---- blobs

export async function getBlob(ctx: FormatRequestContext, image: string, digest: Digest): Promise<FormatResponse> {
  const asset = await ctx.repository.assets.get(paths.blob(image, digest));
  if (!asset) throw ociError('BLOB_UNKNOWN', `blob ${digest.text} of ${image} is unknown`, 404);
  return blobResponse(asset, digest);
}

export async function deleteBlob(ctx: FormatRequestContext, image: string, digest: Digest): Promise<FormatResponse> {
  requireDeletes(ctx);
  if (!(await ctx.repository.assets.delete(paths.blob(image, digest)))) throw ociError('BLOB_UNKNOWN', `blob ${digest.text} of ${image} is unknown`, 404);
  await ctx.audit('delete', { package: image, version: digest.text, details: { kind: 'blob' } });
  return { status: 202, headers: { 'Content-Length': '0' }, cachePolicy: 'no-store' };
}

function blobCreated(ctx: FormatRequestContext, image: string, digest: Digest): FormatResponse {
  return { status: 201, headers: { Location: blobLocation(ctx, image, digest), 'Docker-Content-Digest': digest.text, 'Content-Length': '0' }, cachePolicy: 'no-store' };
}

function expectOf(digest: Digest): { sha256: string } | { sha512: string } {
  return digest.algorithm === 'sha256' ? { sha256: digest.hex } : { sha512: digest.hex };
}

/** Integrity failures while storing a blob are the client's bytes: DIGEST_INVALID. */
function asDigestError(error: unknown): unknown {
  if (isRegistryError(error) && error.code === 'INTEGRITY_MISMATCH') return ociError('DIGEST_INVALID', `the bytes do not match the digest: ${error.message}`, 400);
  return error;
}

/** POST …/blobs/uploads/: a mount, a one-request upload, or a new session. */
export async function startUpload(ctx: FormatRequestContext, image: string): Promise<FormatResponse> {
  const repository = ctx.repository;
  const body = ctx.body as Readable | undefined;
  const mount = ctx.query.get('mount');
  const from = ctx.query.get('from');
  if (mount !== null && from !== null) {
    const digest = parseDigest(mount);
    let source: Asset | undefined;
    try {
      const fromImage = imageName(from.split('/'));
      if (ctx.allowed('read', fromImage)) source = await repository.assets.get(paths.blob(fromImage, digest));
    } catch {
      source = undefined;
    }
    if (source) {
      body?.resume();
      await repository.assets.link(paths.blob(image, digest), source);
      return blobCreated(ctx, image, digest);
    }
    // Not mountable: fall through to a plain upload session, as the spec says.
  }
  const digestParam = ctx.query.get('digest');
  const length = Number(ctx.headers['content-length'] ?? '0');
  if (digestParam !== null && (length > 0 || ctx.headers['transfer-encoding'])) {
    const digest = parseDigest(digestParam);
    try {
      await repository.assets.put(paths.blob(image, digest), body!, { kind: 'content', contentType: 'application/octet-stream', expect: expectOf(digest), maxBytes: repository.limits.maxUploadBytes });
    } catch (error) {
      throw asDigestError(error);
    }
    return blobCreated(ctx, image, digest);
  }
  body?.resume();
  const session = await repository.uploads.create({ image });
  return uploadAccepted(ctx, image, session.id, 0);
}

async function sessionOf(ctx: FormatRequestContext, image: string, id: string) {
  const session = await ctx.repository.uploads.get(id).catch(() => undefined);
  if (!session || session.attributes['image'] !== image) throw ociError('BLOB_UPLOAD_UNKNOWN', `upload ${id.slice(0, 80)} is unknown to ${image}`, 404);
  return session;
}

/** Content-Range `<start>-<end>` (no `bytes=`), checked against Content-Length. */
function chunkOffset(ctx: FormatRequestContext): number | undefined {
  const header = ctx.headers['content-range'];
  if (header === undefined) return undefined;
  const m = /^(?:bytes[= ])?(\d+)-(\d+)(?:\/\S+)?$/.exec(header.trim());
  if (!m) throw ociError('BLOB_UPLOAD_INVALID', `Content-Range ${JSON.stringify(header.slice(0, 80))} is not <start>-<end>`, 400);
  const start = Number(m[1]);
  const end = Number(m[2]);
  const length = ctx.headers['content-length'];
  if (end < start || (length !== undefined && Number(length) !== end - start + 1)) {
    throw ociError('BLOB_UPLOAD_INVALID', `Content-Range ${header} does not match Content-Length ${length}`, 416);
  }
  return start;
}

function mapRangeError(error: unknown): unknown {
  if (isRegistryError(error) && error.status === 416) return ociError('BLOB_UPLOAD_INVALID', error.message, 416, { ...error.headers });
  if (isRegistryError(error) && error.code === 'UPLOAD_UNKNOWN') return ociError('BLOB_UPLOAD_UNKNOWN', error.message, 404);
  return error;
}

export async function patchUpload(ctx: FormatRequestContext, image: string, id: string): Promise<FormatResponse> {
  const body = ctx.body as Readable;
  let session;
  try {
    await sessionOf(ctx, image, id);
    const offset = chunkOffset(ctx);
    session = await ctx.repository.uploads.append(id, body, { ...(offset !== undefined ? { offset } : {}), maxBytes: ctx.repository.limits.maxUploadBytes });
  } catch (error) {
    if (!body.destroyed) body.resume();
    throw mapRangeError(error);
  }
  return uploadAccepted(ctx, image, id, session.size);
}

export async function uploadStatus(ctx: FormatRequestContext, image: string, id: string): Promise<FormatResponse> {
  const session = await sessionOf(ctx, image, id);
  return { ...uploadAccepted(ctx, image, id, session.size, 204), body: undefined };
}

export async function finishUpload(ctx: FormatRequestContext, image: string, id: string): Promise<FormatResponse> {
  const body = ctx.body as Readable;
  let digest: Digest;
  try {
    digest = parseDigest(ctx.query.get('digest'));
    await sessionOf(ctx, image, id);
  } catch (error) {
    body.resume();
    throw error;
  }
  const length = Number(ctx.headers['content-length'] ?? '0');
  const final = length > 0 || ctx.headers['transfer-encoding'] ? body : undefined;
  if (!final) body.resume();
  try {
    if (final && ctx.headers['content-range'] !== undefined) {
      const offset = chunkOffset(ctx);
      await ctx.repository.uploads.append(id, final, { ...(offset !== undefined ? { offset } : {}), maxBytes: ctx.repository.limits.maxUploadBytes });
      await ctx.repository.uploads.commit(id, paths.blob(image, digest), { kind: 'content', contentType: 'application/octet-stream', expect: expectOf(digest), maxBytes: ctx.repository.limits.maxUploadBytes });
    } else {
      await ctx.repository.uploads.commit(id, paths.blob(image, digest), {
        kind: 'content',
        contentType: 'application/octet-stream',
        expect: expectOf(digest),
        maxBytes: ctx.repository.limits.maxUploadBytes,
        ...(final ? { final } : {}),
      });
    }
  } catch (error) {
    throw mapRangeError(asDigestError(error));
  }
  return blobCreated(ctx, image, digest);
}

export async function cancelUpload(ctx: FormatRequestContext, image: string, id: string): Promise<FormatResponse> {
  await sessionOf(ctx, image, id);
  await ctx.repository.uploads.cancel(id);
  return { status: 204, cachePolicy: 'no-store' };
}
