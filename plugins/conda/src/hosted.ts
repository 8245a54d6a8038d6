import {
  BadRequestError,
  ConflictError,
  DELETE_DOCUMENT,
  ForbiddenError,
  NotFoundError,
  PayloadTooLargeError,
  type Asset,
  type FormatRequestContext,
  type MultipartBody,
  type RepositoryHandle,
  type StoredDocument,
} from '@registry-core/api';
import { readPackageIndex } from './archive.js';
import { parsePackageFilename, validateSubdir } from './names.js';
import { emptyRepodata, recordFromIndex, sectionOf, type PackageRecord, type Repodata } from './repodata.js';

/**
 * The channel-wide document of a hosted repository (`channel`): its subdirs and, per
 * package name, what `channeldata.json` says of it. Kept up to date with every change, so
 * that nothing is ever rebuilt by reading the packages again.
 */
export interface ChannelDocument {
  readonly subdirs: readonly string[];
  readonly packages: Readonly<Record<string, ChannelPackage>>;
}

export interface ChannelPackage {
  readonly subdirs: readonly string[];
  readonly version: string;
  readonly timestamp?: number;
  readonly license?: string;
}

export const CHANNEL_KEY = 'channel';
/** The stored repodata of one subdir (the whole `repodata.json` but `repodata_version`). */
export const repodataKey = (subdir: string) => `repodata/${subdir}`;
/** Asset path of a package file. */
export const packagePath = (subdir: string, filename: string) => `${subdir}/${filename}`;

export async function loadHostedRepodata(repo: RepositoryHandle, subdir: string): Promise<StoredDocument<Repodata> | undefined> {
  return repo.documents.get<Repodata>(repodataKey(subdir));
}

export async function loadChannel(repo: RepositoryHandle): Promise<StoredDocument<ChannelDocument> | undefined> {
  return repo.documents.get<ChannelDocument>(CHANNEL_KEY);
}

/** The file of an upload form: the one file part (any field name, `file` by convention). */
export function uploadedFile(body: MultipartBody) {
  const files = Object.values(body.files).flat();
  if (files.length !== 1) throw new BadRequestError('upload exactly one package file (a multipart form with one file part, e.g. curl -F file=@pkg.conda)');
  const file = files[0]!;
  // The client's file name is the package's: one with a folder in it is refused, not cut down.
  return { file, parsed: parsePackageFilename(file.filename) };
}

/** Whether `candidate` is the newer of two conda versions, by conda's ordering closely enough for `channeldata.json`'s summary. */
export function newer(candidate: string, current: string): boolean {
  const parts = (v: string) => v.toLowerCase().split(/[._+!-]/);
  const a = parts(candidate);
  const b = parts(current);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? '';
    const y = b[i] ?? '';
    if (x === y) continue;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) return Number(x) > Number(y);
    if (nx !== ny) return nx;
    return x > y;
  }
  return false;
}

/**
 * `POST /-/upload`: one `.conda` or `.tar.bz2` in a multipart form. Its `info/index.json`
 * must agree with the file name (and with the form's `subdir` field, when given);
 * then the file is stored pending and published with the subdir's repodata in one
 * transaction, and the channel document and the components index follow.
 */
export async function upload(ctx: FormatRequestContext): Promise<{ subdir: string; filename: string; record: PackageRecord }> {
  const body = ctx.body as MultipartBody;
  const { file, parsed } = uploadedFile(body);
  ctx.authorize('write', parsed.name);
  const named = body.fields['subdir']?.[0];
  if (named !== undefined) validateSubdir(named);
  // The form may be a little larger than the limit (its fields); the file itself may not.
  if (file.size > ctx.repository.limits.maxUploadBytes) throw new PayloadTooLargeError(`${parsed.filename} is ${file.size} bytes, over the ${ctx.repository.limits.maxUploadBytes}-byte upload limit of ${ctx.repository.name}`);
  if (file.size === 0) throw new BadRequestError('the file is empty');
  const limits = { maxExpandedBytes: Math.max(ctx.repository.limits.maxUploadBytes * 20, 64 * 1024 * 1024) };
  const index = await readPackageIndex(file.path, parsed.extension === '.conda' ? parsed.filename.slice(0, -'.conda'.length) : undefined, limits);
  const record = recordFromIndex(index, parsed, { md5: file.md5, sha256: file.sha256, size: file.size });
  const subdir = validateSubdir(record.subdir);
  if (named !== undefined && named !== subdir) throw new BadRequestError(`Invalid conda package: ${parsed.filename} is for subdir ${subdir}, not ${named}.`);
  const repo = ctx.repository;
  const section = sectionOf(parsed.filename);
  const exists = () => new ConflictError(`${subdir}/${parsed.filename} already exists in ${repo.name}; a package file is never replaced (delete it first)`);
  const existing = await loadHostedRepodata(repo, subdir);
  if (existing && (existing.value[section][parsed.filename] || existing.value.removed.includes(parsed.filename))) throw exists();
  let pending: Asset;
  try {
    pending = await repo.assets.put(packagePath(subdir, parsed.filename), file.open(), {
      kind: 'content',
      contentType: parsed.extension === '.conda' ? 'application/octet-stream' : 'application/x-bzip2',
      expect: { sha256: file.sha256, size: file.size },
      pending: true,
    });
  } catch (error) {
    if ((error as { status?: number }).status === 409) throw exists();
    throw error;
  }
  let recorded = false;
  try {
    await repo.documents.update<Repodata>(
      repodataKey(subdir),
      (current) => {
        const base = current ?? emptyRepodata(subdir);
        if (base[section][parsed.filename] || base.removed.includes(parsed.filename)) throw exists();
        return { ...base, [section]: { ...base[section], [parsed.filename]: record } };
      },
      { publish: [pending] },
    );
    recorded = true;
  } catch (error) {
    if ((error as { status?: number }).status === 409) throw exists();
    throw error;
  } finally {
    if (!recorded) await repo.assets.discard(pending).catch(() => undefined);
  }
  await repo.documents.update<ChannelDocument>(CHANNEL_KEY, (current) => {
    const before = current?.packages[parsed.name];
    const latest = !before || newer(record.version, before.version);
    const entry: ChannelPackage = {
      subdirs: [...new Set([...(before?.subdirs ?? []), subdir])].sort(),
      version: latest ? record.version : before.version,
      ...(latest ? (typeof record['timestamp'] === 'number' ? { timestamp: record['timestamp'] } : {}) : before.timestamp !== undefined ? { timestamp: before.timestamp } : {}),
      ...(latest ? (typeof record['license'] === 'string' ? { license: record['license'] } : {}) : before.license !== undefined ? { license: before.license } : {}),
    };
    return { subdirs: [...new Set([...(current?.subdirs ?? []), subdir])].sort(), packages: { ...current?.packages, [parsed.name]: entry } };
  });
  await repo.components.upsert({ name: parsed.name, version: parsed.version, attributes: { ...(typeof record['license'] === 'string' ? { license: record['license'] } : {}) } });
  await ctx.audit('publish', { package: parsed.name, version: parsed.version, details: { subdir, filename: parsed.filename, sha256: file.sha256 } });
  return { subdir, filename: parsed.filename, record };
}

/**
 * Take a file out of its subdir's repodata: `delete` also removes the file itself; `broken`
 * lists it under `removed` (conda's "marked broken": no longer solvable, still downloadable
 * for environments that pinned it).
 */
export async function removePackage(ctx: FormatRequestContext, subdir: string, filename: string, mode: 'delete' | 'broken'): Promise<PackageRecord | undefined> {
  validateSubdir(subdir);
  const parsed = parsePackageFilename(filename);
  ctx.authorize('delete', parsed.name);
  const repo = ctx.repository;
  if (mode === 'delete' && repo.config['allowDelete'] === false) throw new ForbiddenError(`deletes are turned off in ${repo.name} (allowDelete: false); mark the package broken instead`);
  const section = sectionOf(filename);
  let removed: PackageRecord | undefined;
  await repo.documents.update<Repodata>(repodataKey(subdir), (current) => {
    removed = current?.[section][filename];
    const wasBroken = current?.removed.includes(filename) ?? false;
    if (!current || (!removed && !(mode === 'delete' && wasBroken))) throw new NotFoundError(`${subdir}/${filename} is not in ${repo.name}`);
    const { [filename]: _gone, ...rest } = current[section];
    const list = mode === 'broken' ? [...new Set([...current.removed, filename])].sort() : current.removed.filter((f) => f !== filename);
    return { ...current, [section]: rest, removed: list };
  });
  if (mode === 'delete') await repo.assets.delete(packagePath(subdir, filename));
  await forgetIfGone(repo, parsed.name, parsed.version);
  await ctx.audit(mode === 'delete' ? 'delete' : 'mark-broken', { package: parsed.name, version: parsed.version, details: { subdir, filename } });
  return removed;
}

/** After a removal: the components index and `channeldata.json` follow, from the subdirs the name was in (not the whole channel). */
async function forgetIfGone(repo: RepositoryHandle, name: string, version: string): Promise<void> {
  const channel = await loadChannel(repo);
  const subdirs = channel?.value.packages[name]?.subdirs ?? [];
  const records: PackageRecord[] = [];
  const stillIn: string[] = [];
  for (const subdir of subdirs) {
    const repodata = await loadHostedRepodata(repo, subdir);
    const here = [...Object.values(repodata?.value.packages ?? {}), ...Object.values(repodata?.value['packages.conda'] ?? {})].filter((r) => r.name === name);
    if (here.length > 0) stillIn.push(subdir);
    records.push(...here);
  }
  if (!records.some((r) => r.version === version)) await repo.components.remove(name, version);
  await repo.documents.update<ChannelDocument>(CHANNEL_KEY, (current) => {
    if (!current) return DELETE_DOCUMENT;
    const { [name]: _gone, ...packages } = current.packages;
    if (records.length === 0) return { ...current, packages };
    const latest = records.reduce((a, b) => (newer(b.version, a.version) ? b : a));
    return {
      ...current,
      packages: {
        ...packages,
        [name]: {
          subdirs: stillIn.sort(),
          version: latest.version,
          ...(typeof latest['timestamp'] === 'number' ? { timestamp: latest['timestamp'] } : {}),
          ...(typeof latest['license'] === 'string' ? { license: latest['license'] } : {}),
        },
      },
    };
  });
}
