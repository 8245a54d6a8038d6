import {
  BadRequestError,
  DELETE_DOCUMENT,
  ForbiddenError,
  GoneError,
  NotFoundError,
  PayloadTooLargeError,
  type Asset,
  type FormatRequestContext,
  type MultipartBody,
  type RepositoryHandle,
  type UploadedFile,
} from '@registry-core/api';
import { readSdistMetadata, readWheelMetadata } from './archive.js';
import { parseCoreMetadata } from './core-metadata.js';
import { parseDistributionFilename } from './filenames.js';
import { normalizeName, validateProjectName } from './names.js';
import type { DistFile, ProjectPage } from './simple-index.js';
import { compareVersions, normalizeVersion, sameVersion, validateVersion } from './versions.js';

/** One uploaded distribution of a hosted project. */
export interface HostedFile {
  readonly filename: string;
  /** Normalized PEP 440 version. */
  readonly version: string;
  readonly packagetype: 'sdist' | 'bdist_wheel';
  readonly sha256: string;
  readonly md5: string;
  readonly size: number;
  readonly uploadTime: string;
  readonly requiresPython?: string;
  /** sha256 of the core metadata file served at `<file>.metadata`. */
  readonly metadataSha256: string;
  /** Set when yanked (PEP 592): the reason, possibly empty. */
  readonly yanked?: string;
}

/** What a release's metadata said (from its first uploaded file), for the JSON API. */
export interface ReleaseInfo {
  readonly version: string;
  readonly summary?: string;
  readonly requiresPython?: string;
  readonly requiresDist: readonly string[];
  readonly author?: string;
  readonly authorEmail?: string;
  readonly license?: string;
  readonly homePage?: string;
  readonly projectUrls: readonly string[];
  readonly classifiers: readonly string[];
  readonly uploadTime: string;
}

/** The document of a hosted project (`project/<normalized name>`). */
export interface HostedProject {
  /** The name as first uploaded (its display spelling). */
  readonly name: string;
  readonly files: Readonly<Record<string, HostedFile>>;
  readonly releases: Readonly<Record<string, ReleaseInfo>>;
}

/** The list of hosted project names (`index/projects`). */
interface ProjectList {
  readonly names: Readonly<Record<string, string>>;
}

export const projectKey = (normalized: string) => `project/${normalized}`;
const PROJECTS_KEY = 'index/projects';
/** Asset path of a distribution (and, with `.metadata`, of its core metadata). */
export const filePath = (normalized: string, filename: string) => `packages/${normalized}/${filename}`;
/** Filenames once uploaded stay taken, as on PyPI, even after a delete. */
const usedKey = (filename: string) => `used-filename/${filename}`;

/** Where a file is served, under `baseUrl` (the group's URL when asked through a group). */
export function fileUrl(baseUrl: string, normalized: string, filename: string): string {
  return `${baseUrl}packages/${encodeURIComponent(normalized)}/${encodeURIComponent(filename)}`;
}

/** A hosted project as a page. */
export function hostedPage(project: HostedProject, baseUrl: string): ProjectPage {
  const normalized = normalizeName(project.name);
  const files: DistFile[] = Object.values(project.files)
    .sort((a, b) => compareVersions(a.version, b.version) || (a.filename < b.filename ? -1 : 1))
    .map((file) => ({
      filename: file.filename,
      url: fileUrl(baseUrl, normalized, file.filename),
      hashes: { sha256: file.sha256 },
      ...(file.requiresPython ? { requiresPython: file.requiresPython } : {}),
      yanked: file.yanked ?? false,
      coreMetadata: { sha256: file.metadataSha256 },
      size: file.size,
      uploadTime: file.uploadTime,
    }));
  const versions = Object.keys(project.releases).sort(compareVersions);
  return { name: project.name, files, versions };
}

export async function loadHostedProject(repo: RepositoryHandle, normalized: string) {
  return repo.documents.get<HostedProject>(projectKey(normalized));
}

export async function hostedProjectNames(repo: RepositoryHandle): Promise<string[]> {
  const list = await repo.documents.get<ProjectList>(PROJECTS_KEY);
  return Object.values(list?.value.names ?? {}).sort((a, b) => (normalizeName(a) < normalizeName(b) ? -1 : 1));
}

const one = (body: MultipartBody, field: string): string | undefined => body.fields[field]?.[0];

/** A PyPI-style refusal of an upload: twine prints the status line's text. */
function refuse(message: string): never {
  throw new BadRequestError(message);
}

/**
 * `POST /` (and `/legacy/`): the upload API twine, poetry, flit and uv speak. Every check
 * runs before anything is stored; then the file, its core metadata file, and the project
 * document (under the document's lock) are written.
 */
export async function upload(ctx: FormatRequestContext): Promise<void> {
  const body = ctx.body as MultipartBody;
  const action = one(body, ':action');
  if (action === 'submit' || action === 'doc_upload' || action === 'register') throw new GoneError(`Project pre-registration and ":action=${action}" are no longer supported; upload the files directly.`);
  if (action !== 'file_upload') refuse(`Invalid value for :action: ${JSON.stringify(action ?? '')}; expected "file_upload".`);
  const protocol = one(body, 'protocol_version');
  if (protocol !== undefined && protocol !== '1') refuse(`Unknown protocol_version ${JSON.stringify(protocol)}.`);
  const content = body.files['content'];
  if (!content || content.length !== 1) refuse('Upload exactly one file in the "content" field.');
  const file = content[0]!;
  const formName = one(body, 'name');
  const formVersion = one(body, 'version');
  if (!formName) refuse('Invalid value for name. Error: This field is required.');
  if (!formVersion) refuse('Invalid value for version. Error: This field is required.');
  const name = validateProjectName(formName);
  const version = validateVersion(formVersion);
  const normalized = normalizeName(name);
  ctx.authorize('write', normalized);
  if (file.size > ctx.repository.limits.maxUploadBytes) throw new PayloadTooLargeError(`File too large. Limit for project ${JSON.stringify(name)} is ${ctx.repository.limits.maxUploadBytes} bytes.`);
  if (file.size === 0) refuse('The file is empty.');

  const parsed = parseDistributionFilename(file.filename);
  const filetype = one(body, 'filetype');
  const expectedType = parsed.kind === 'wheel' ? 'bdist_wheel' : 'sdist';
  if (filetype !== undefined && filetype !== expectedType) refuse(`Invalid value for filetype: ${JSON.stringify(filetype)} does not match the file ${file.filename}.`);
  if (parsed.normalizedName !== normalized || !sameVersion(parsed.version, version)) {
    refuse(`Start filename for ${JSON.stringify(name)} with ${JSON.stringify(`${normalized.replace(/-/g, '_')}-${version}`)}: the file ${file.filename} is for another project or version.`);
  }
  checkDigests(body, file);

  // The archive's own metadata must say the same name and version as the form.
  const metadataText =
    parsed.kind === 'wheel'
      ? await readWheelMetadata(file.path, { name: parsed.name, version: parsed.version })
      : await readSdistMetadata(file.path, { name: parsed.name, version: parsed.version }, { extension: parsed.extension });
  const metadata = parseCoreMetadata(metadataText);
  if (normalizeName(metadata.name) !== normalized) refuse(`The file's metadata names the project ${JSON.stringify(metadata.name)}, not ${JSON.stringify(name)}.`);
  if (!sameVersion(metadata.version, version)) refuse(`The file's metadata has version ${JSON.stringify(metadata.version)}, not ${JSON.stringify(version)}.`);

  const repo = ctx.repository;
  const existing = await loadHostedProject(repo, normalized);
  if (existing && existing.value.name !== name) {
    refuse(`The name ${JSON.stringify(name)} is another spelling of the existing project ${JSON.stringify(existing.value.name)}; upload under that name.`);
  }
  if (await repo.kv.get<boolean>(usedKey(file.filename))) refuse('File already exists. A filename can only be used once; upload a new version.');

  const path = filePath(normalized, file.filename);
  // The file and its core metadata are stored pending (never served) and published with
  // the project document in one transaction: a crash leaves no file that no page lists,
  // and what a cut-short upload left pending is replaced by its retry. Of two uploads of
  // one filename at once, the first to commit wins; the other is refused.
  const pending: Asset[] = [];
  try {
    pending.push(
      await repo.assets.put(path, file.open(), {
        kind: 'content',
        contentType: parsed.kind === 'wheel' || parsed.extension === '.zip' ? 'application/zip' : 'application/gzip',
        expect: { sha256: file.sha256, size: file.size },
        pending: true,
      }),
    );
  } catch (error) {
    if ((error as { status?: number }).status === 409) refuse('File already exists.');
    throw error;
  }
  const now = new Date().toISOString();
  const normalizedVersion = normalizeVersion(version)!;
  let recorded = false;
  try {
    const storedMetadata = await repo.assets.put(`${path}.metadata`, Buffer.from(metadataText, 'utf8'), { kind: 'content', contentType: 'text/plain; charset=utf-8', pending: true });
    pending.push(storedMetadata);
    const entry: HostedFile = {
      filename: file.filename,
      version: normalizedVersion,
      packagetype: expectedType,
      sha256: file.sha256,
      md5: file.md5,
      size: file.size,
      uploadTime: now,
      ...(metadata.requiresPython ? { requiresPython: metadata.requiresPython } : {}),
      metadataSha256: storedMetadata.digests.sha256,
    };
    await repo.documents.update<HostedProject>(projectKey(normalized), (current) => {
      if (current && current.name !== name) refuse(`The name ${JSON.stringify(name)} is another spelling of the existing project ${JSON.stringify(current.name)}; upload under that name.`);
      if (current?.files[file.filename]) refuse('File already exists.');
      const release: ReleaseInfo = current?.releases[normalizedVersion] ?? {
        version,
        ...(metadata.summary ? { summary: metadata.summary } : {}),
        ...(metadata.requiresPython ? { requiresPython: metadata.requiresPython } : {}),
        requiresDist: metadata.requiresDist,
        ...(metadata.fields['author']?.[0] ? { author: metadata.fields['author'][0] } : {}),
        ...(metadata.fields['author-email']?.[0] ? { authorEmail: metadata.fields['author-email'][0] } : {}),
        ...(metadata.fields['license']?.[0] ? { license: metadata.fields['license'][0] } : {}),
        ...(metadata.fields['home-page']?.[0] ? { homePage: metadata.fields['home-page'][0] } : {}),
        projectUrls: metadata.fields['project-url'] ?? [],
        classifiers: metadata.fields['classifier'] ?? [],
        uploadTime: now,
      };
      return {
        name: current?.name ?? name,
        files: { ...current?.files, [file.filename]: entry },
        releases: { ...current?.releases, [normalizedVersion]: release },
      };
    }, { publish: pending });
    recorded = true;
  } catch (error) {
    // Another upload of this filename committed first (it replaced ours while pending).
    if ((error as { status?: number }).status === 409) refuse('File already exists.');
    throw error;
  } finally {
    // Not recorded: nothing of this upload may stay (the filename is still free).
    if (!recorded) for (const asset of pending) await repo.assets.discard(asset).catch(() => undefined);
  }
  await repo.kv.set(usedKey(file.filename), true);
  if (!existing) {
    await repo.documents.update<ProjectList>(PROJECTS_KEY, (current) => (current?.names[normalized] === name ? current : { names: { ...current?.names, [normalized]: name } }));
  }
  await repo.components.upsert({ name: normalized, version: normalizedVersion, attributes: { displayName: name, ...(metadata.summary ? { description: metadata.summary } : {}) } });
  await ctx.audit('publish', { package: normalized, version: normalizedVersion, details: { filename: file.filename, sha256: file.sha256 } });
}

/** The digests twine sends (md5, sha256; blake2_256 is not checked: Node has no BLAKE2b-256). */
function checkDigests(body: MultipartBody, file: UploadedFile): void {
  const sha256 = one(body, 'sha256_digest');
  const md5 = one(body, 'md5_digest');
  if (sha256 !== undefined && sha256.toLowerCase() !== file.sha256) refuse('The digest supplied does not match a digest calculated from the uploaded file (sha256).');
  if (md5 !== undefined && md5.toLowerCase() !== file.md5) refuse('The digest supplied does not match a digest calculated from the uploaded file (md5).');
}

/** Yank or unyank (PEP 592) a release or one file of it. */
export async function setYanked(ctx: FormatRequestContext, project: string, target: { version?: string; filename?: string }, reason: string | undefined): Promise<number> {
  const normalized = normalizeName(validateProjectName(project));
  ctx.authorize('delete', normalized);
  const version = target.version !== undefined ? normalizeVersion(validateVersion(target.version)) : undefined;
  let changed = 0;
  await ctx.repository.documents.update<HostedProject>(projectKey(normalized), (current) => {
    if (!current) throw new NotFoundError(`project ${project} is not in ${ctx.repository.name}`);
    const files = { ...current.files };
    for (const [filename, file] of Object.entries(files)) {
      if ((version !== undefined && file.version !== version) || (target.filename !== undefined && filename !== target.filename)) continue;
      const { yanked: _was, ...rest } = file;
      files[filename] = reason === undefined ? rest : { ...rest, yanked: reason };
      changed++;
    }
    if (changed === 0) throw new NotFoundError(`nothing in ${project} matches ${target.filename ?? target.version}`);
    return { ...current, files };
  });
  await ctx.audit(reason === undefined ? 'unyank' : 'yank', { package: normalized, ...(version ? { version } : {}), details: { ...(target.filename ? { filename: target.filename } : {}), ...(reason ? { reason } : {}) } });
  return changed;
}

/** Delete a project, a release, or one file; the filenames stay taken. */
export async function deleteFiles(ctx: FormatRequestContext, project: string, target: { version?: string; filename?: string }): Promise<string[]> {
  const normalized = normalizeName(validateProjectName(project));
  ctx.authorize('delete', normalized);
  if (ctx.repository.config['allowDelete'] === false) throw new ForbiddenError(`deletes are turned off in ${ctx.repository.name} (allowDelete: false)`);
  const version = target.version !== undefined ? normalizeVersion(validateVersion(target.version)) : undefined;
  let removed: HostedFile[] = [];
  let lastVersions: string[] = [];
  await ctx.repository.documents.update<HostedProject>(projectKey(normalized), (current) => {
    if (!current) throw new NotFoundError(`project ${project} is not in ${ctx.repository.name}`);
    const keep: Record<string, HostedFile> = {};
    removed = [];
    for (const [filename, file] of Object.entries(current.files)) {
      const matches = (version === undefined || file.version === version) && (target.filename === undefined || filename === target.filename);
      if (matches) removed.push(file);
      else keep[filename] = file;
    }
    if (removed.length === 0) throw new NotFoundError(`nothing in ${project} matches ${target.filename ?? target.version ?? 'the project'}`);
    const releases: Record<string, ReleaseInfo> = {};
    for (const [v, release] of Object.entries(current.releases)) if (Object.values(keep).some((f) => f.version === v)) releases[v] = release;
    lastVersions = Object.keys(releases);
    if (Object.keys(keep).length === 0) return DELETE_DOCUMENT;
    return { ...current, files: keep, releases };
  });
  for (const file of removed) {
    await ctx.repository.assets.delete(filePath(normalized, file.filename));
    await ctx.repository.assets.delete(`${filePath(normalized, file.filename)}.metadata`);
  }
  for (const v of new Set(removed.map((f) => f.version))) if (!lastVersions.includes(v)) await ctx.repository.components.remove(normalized, v);
  if (lastVersions.length === 0) {
    await ctx.repository.documents.update<ProjectList>(PROJECTS_KEY, (current) => {
      if (!current) return DELETE_DOCUMENT;
      if (!current.names[normalized]) return current;
      const { [normalized]: _gone, ...names } = current.names;
      return { names };
    });
  }
  await ctx.audit('delete', { package: normalized, ...(version ? { version } : {}), details: { files: removed.map((f) => f.filename) } });
  return removed.map((f) => f.filename);
}
