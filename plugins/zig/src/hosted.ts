import { BadRequestError, ConflictError, PayloadTooLargeError, type Asset, type FormatRequestContext, type MultipartBody, type UploadedFile } from '@registry-core/api';
import { packageKey, recordOf, tarballPath, viewOf, type PackageDocument, type PublishedArchive, type VersionView } from './documents.js';
import { parseManifest, type ZigManifest } from './manifest.js';
import { hashArchive, hashZip, sniffArchive, type PackageDigest } from './package-hash.js';

/** Where a hash is looked up: `hash/<hash>` in a repository's key-value store. */
export const hashKey = (hash: string) => `hash/${hash}`;

/** What `hash/<hash>` holds: the package and version on a hosted repository, the URL on a proxy. */
export interface HashEntry {
  readonly name?: string;
  readonly version?: string;
  readonly url?: string;
}

/** The content type a published archive is served with: zig picks its unpacker by it. */
export const ARCHIVE_TYPES: Readonly<Record<PublishedArchive, string>> = { 'tar.gz': 'application/gzip', 'tar.xz': 'application/x-xz', zip: 'application/zip' };

function publishedKind(kind: ReturnType<typeof sniffArchive>): PublishedArchive {
  if (kind === 'tar.gz' || kind === 'tar.xz' || kind === 'zip') return kind;
  throw new BadRequestError(`only .tar.gz, .tar.xz and .zip archives can be published here${kind ? ` (this one is ${kind})` : ''}`);
}

/** The digest of an upload, computed once per request (the group plan and the handler both need it). */
const digests = new WeakMap<UploadedFile, Promise<PackageDigest>>();

function tarballOf(body: MultipartBody | undefined): UploadedFile {
  const files = body?.files['tarball'];
  if (!files || files.length !== 1) throw new BadRequestError('send exactly one archive in the "tarball" field of a multipart/form-data POST');
  return files[0]!;
}

async function headOf(file: UploadedFile): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of file.open().iterator({ destroyOnReturn: true }) as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= 512) break;
  }
  return Buffer.concat(chunks).subarray(0, 512);
}

/** The upload's package digest (its archive read once). */
export function uploadDigest(ctx: FormatRequestContext): Promise<PackageDigest> {
  const file = tarballOf(ctx.body as MultipartBody | undefined);
  let pending = digests.get(file);
  if (!pending) {
    pending = (async () => {
      if (file.size > ctx.repository.limits.maxUploadBytes) throw new PayloadTooLargeError(`the archive is larger than ${ctx.repository.limits.maxUploadBytes} bytes`);
      if (file.size === 0) throw new BadRequestError('the archive is empty');
      const kind = sniffArchive(await headOf(file));
      const limits = { maxExpandedBytes: Math.max(64 * 1024 * 1024, Math.min(4 * 1024 * 1024 * 1024, file.size * 200)) };
      const archive = publishedKind(kind);
      return archive === 'zip' ? hashZip(file.path, file.size, limits) : hashArchive(file.open(), archive, file.size, limits);
    })();
    digests.set(file, pending);
  }
  return pending;
}

/** The package an upload names: from the archive's `build.zig.zon`. */
export async function uploadedManifest(ctx: FormatRequestContext): Promise<ZigManifest> {
  const digest = await uploadDigest(ctx);
  if (!digest.manifest) throw new BadRequestError(`the archive has no build.zig.zon in its top-level directory ${digest.root}/`);
  return digest.manifest;
}

/** The form's `manifest` field (text or file part), when sent. */
async function formManifest(body: MultipartBody): Promise<ZigManifest | undefined> {
  const text = body.fields['manifest']?.[0];
  if (text !== undefined) return parseManifest(Buffer.from(text, 'utf8'));
  const file = body.files['manifest']?.[0];
  if (!file) return undefined;
  if (file.size > 1024 * 1024) throw new BadRequestError('the manifest is larger than 1 MiB');
  const chunks: Buffer[] = [];
  for await (const chunk of file.open() as AsyncIterable<Buffer>) chunks.push(chunk);
  return parseManifest(Buffer.concat(chunks));
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return JSON.stringify([...(a ?? [])].sort()) === JSON.stringify([...(b ?? [])].sort());
}

/**
 * `POST /publish`: the archive (field `tarball`), optionally the `manifest` it must agree
 * with and a `description`. Every check runs before anything is stored; the archive is
 * stored pending and published with the package document in one transaction; a version is
 * never replaced.
 */
export async function publish(ctx: FormatRequestContext): Promise<VersionView> {
  const body = ctx.body as MultipartBody;
  const file = tarballOf(body);
  const digest = await uploadDigest(ctx);
  const manifest = await uploadedManifest(ctx);
  const archive = publishedKind(sniffArchive(await headOf(file)));
  const declared = await formManifest(body);
  if (declared) {
    const differs = (what: string, form: unknown, archive: unknown) =>
      new BadRequestError(`the manifest sent says ${what} ${JSON.stringify(form)}, the archive's build.zig.zon ${JSON.stringify(archive)}`);
    if (declared.name !== manifest.name) throw differs('.name', declared.name, manifest.name);
    if (declared.version !== manifest.version) throw differs('.version', declared.version, manifest.version);
    if (!sameList(declared.paths, manifest.paths)) throw differs('.paths', declared.paths ?? null, manifest.paths ?? null);
    if (declared.id !== manifest.id) throw differs('.fingerprint id', declared.id ?? null, manifest.id ?? null);
  }
  const description = body.fields['description']?.[0];
  if (description !== undefined && description.length > 4096) throw new BadRequestError('the description is longer than 4096 characters');
  const { name, version } = manifest;
  ctx.authorize('write', name);

  const repo = ctx.repository;
  const existing = await repo.documents.get<PackageDocument>(packageKey(name));
  if (existing?.value.versions[version]) throw new ConflictError(`${name} ${version} is already published; versions are immutable: publish a new version`);

  let asset: Asset;
  try {
    asset = await repo.assets.put(tarballPath(name, version), file.open(), {
      kind: 'content',
      contentType: ARCHIVE_TYPES[archive],
      expect: { sha256: file.sha256, size: file.size },
      pending: true,
    });
  } catch (error) {
    if ((error as { status?: number }).status === 409) throw new ConflictError(`${name} ${version} is already published`);
    throw error;
  }
  const record = recordOf(digest, file, archive, description, new Date().toISOString());
  let recorded = false;
  try {
    // Written before the commit point: a lookup answers only once the version is published
    // (hashLookup checks the document), and a crash after the commit leaves nothing to redo.
    for (const hash of new Set(Object.values(record.hashes))) await repo.kv.set<HashEntry>(hashKey(hash), { name, version });
    await repo.documents.update<PackageDocument>(
      packageKey(name),
      (current) => {
        if (current?.versions[version]) throw new ConflictError(`${name} ${version} is already published; versions are immutable: publish a new version`);
        return { name, ...(description ?? current?.description ? { description: description ?? current!.description! } : {}), versions: { ...current?.versions, [version]: record } };
      },
      { publish: [asset] },
    );
    recorded = true;
  } catch (error) {
    if ((error as { status?: number }).status === 409) throw new ConflictError(`${name} ${version} is already published`);
    throw error;
  } finally {
    if (!recorded) await repo.assets.discard(asset).catch(() => undefined);
  }
  await repo.components.upsert({ name, version, attributes: { ...(description ? { description } : {}), hash: record.hash } });
  await ctx.audit('publish', { package: name, version, details: { sha256: file.sha256, hash: record.hash } });
  return viewOf(record, ctx.baseUrl);
}
