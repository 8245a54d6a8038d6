import {
  BadRequestError,
  ConflictError,
  DELETE_DOCUMENT,
  NotFoundError,
  PayloadTooLargeError,
  type Asset,
  type FormatRequestContext,
  type MultipartBody,
  type RepositoryHandle,
  type UploadedFile,
} from '@registry-core/api';
import { lowerId, validateId } from './ids.js';
import { readNuspec, type Nuspec } from './nupkg.js';
import type { PackageDocument, VersionEntry } from './package-document.js';
import { fullVersion, keyOf, versionKey } from './versions.js';

export const documentKey = (lid: string) => `package/${lid}`;
/** Where a version's .nupkg is stored (the flat container's path, hosted and proxy alike). */
export const nupkgPath = (lid: string, key: string) => `v3-flatcontainer/${lid}/${key}/${lid}.${key}.nupkg`;
export const nuspecPath = (lid: string, key: string) => `v3-flatcontainer/${lid}/${key}/${lid}.nuspec`;

export async function loadHosted(repo: RepositoryHandle, lid: string) {
  return repo.documents.get<PackageDocument>(documentKey(lid));
}

/** The package file of a push: the first file part, whatever its field (clients differ). */
export function pushedFile(body: MultipartBody): UploadedFile {
  const file = Object.values(body.files).flat()[0];
  if (!file) throw new BadRequestError('The request holds no package file (a multipart/form-data part with a filename).');
  return file;
}

/** The id and version a pushed package's .nuspec names (what a group routes a push by). */
export async function pushedPackage(body: MultipartBody): Promise<{ file: UploadedFile; nuspecBytes: Buffer; nuspec: Nuspec }> {
  const file = pushedFile(body);
  const { bytes, nuspec } = await readNuspec(file.path);
  return { file, nuspecBytes: bytes, nuspec };
}

/**
 * `PUT api/v2/package`: the .nuspec is read from the package (its id and version checked),
 * then the .nupkg and .nuspec are stored pending and published with the package document
 * in one transaction. A version already there is a 409.
 */
export async function push(ctx: FormatRequestContext): Promise<void> {
  const body = ctx.body as MultipartBody;
  const file = pushedFile(body);
  if (file.size > ctx.repository.limits.maxUploadBytes) throw new PayloadTooLargeError(`The package is larger than ${ctx.repository.limits.maxUploadBytes} bytes.`);
  const { nuspecBytes, nuspec } = await pushedPackage(body);
  const lid = nuspec.id.toLowerCase();
  const key = versionKey(nuspec.version);
  ctx.authorize('write', lid);
  const repo = ctx.repository;
  const pending: Asset[] = [];
  let recorded = false;
  const conflict = () => new ConflictError(`${nuspec.id} ${fullVersion(nuspec.version)} already exists in ${repo.name}; push a new version.`);
  try {
    try {
      pending.push(await repo.assets.put(nupkgPath(lid, key), file.open(), { kind: 'content', contentType: 'application/octet-stream', expect: { sha256: file.sha256, size: file.size }, digests: ['sha512'], pending: true }));
      pending.push(await repo.assets.put(nuspecPath(lid, key), nuspecBytes, { kind: 'content', contentType: 'application/xml', pending: true }));
    } catch (error) {
      if ((error as { status?: number }).status === 409) throw conflict();
      throw error;
    }
    const sha512 = Buffer.from(await pending[0]!.digest('sha512'), 'hex').toString('base64');
    const { id: _id, version: _version, ...description } = nuspec;
    const entry: VersionEntry = {
      ...description,
      version: fullVersion(nuspec.version),
      listed: true,
      published: new Date().toISOString(),
      packageSize: file.size,
      packageHash: sha512,
    };
    await repo.documents.update<PackageDocument>(
      documentKey(lid),
      (current) => {
        if (current?.versions[key]) throw conflict();
        return { id: current?.id ?? nuspec.id, versions: { ...current?.versions, [key]: entry } };
      },
      { publish: pending },
    );
    recorded = true;
  } catch (error) {
    if ((error as { status?: number }).status === 409) throw conflict();
    throw error;
  } finally {
    if (!recorded) for (const asset of pending) await repo.assets.discard(asset).catch(() => undefined);
  }
  await repo.components.upsert({ name: lid, version: key, attributes: { displayName: nuspec.id, description: nuspec.description, ...(nuspec.tags ? { keywords: nuspec.tags } : {}) } });
  await ctx.audit('publish', { package: lid, version: key, details: { sha256: file.sha256, size: file.size } });
}

/** The id and version a `api/v2/package/{id}/{version}` request names. */
export function target(ctx: FormatRequestContext): { lid: string; key: string } {
  return { lid: lowerId(validateId(ctx.params['id'] as string | undefined)), key: keyOf((ctx.params['version'] as string | undefined) ?? '') };
}

/**
 * `DELETE api/v2/package/{id}/{version}`: unlist (NuGet's meaning of a delete), or remove the
 * version outright in a repository with `deleteMode: delete`. `POST` relists.
 */
export async function changeListing(ctx: FormatRequestContext, listed: boolean): Promise<void> {
  const { lid, key } = target(ctx);
  ctx.authorize('delete', lid);
  const repo = ctx.repository;
  const remove = !listed && repo.config['deleteMode'] === 'delete';
  await repo.documents.update<PackageDocument>(documentKey(lid), (current) => {
    const entry = current?.versions[key];
    if (!current || !entry) throw new NotFoundError(`${lid} ${key} is not in ${repo.name}`);
    if (remove) {
      const { [key]: _gone, ...versions } = current.versions;
      return Object.keys(versions).length ? { ...current, versions } : DELETE_DOCUMENT;
    }
    return entry.listed === listed ? current : { ...current, versions: { ...current.versions, [key]: { ...entry, listed } } };
  });
  if (remove) {
    await repo.assets.delete(nupkgPath(lid, key));
    await repo.assets.delete(nuspecPath(lid, key));
    await repo.components.remove(lid, key);
  }
  await ctx.audit(remove ? 'delete' : listed ? 'relist' : 'unlist', { package: lid, version: key });
}
