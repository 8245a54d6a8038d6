import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import {
  BadRequestError,
  ConflictError,
  PayloadTooLargeError,
  readSmallBody,
  type Asset,
  type FormatRequestContext,
  type HostedRepositoryHandle,
  type RepositoryHandle,
} from '@registry-core/api';
import { escapeCase } from './module-path.js';
import { checkModuleZip, MAX_GO_MOD_BYTES, MAX_ZIP_BYTES } from './module-zip.js';
import { isPseudoVersion } from './semver.js';

/** One published version of a hosted module. */
export interface HostedVersion {
  /** Publish time, RFC 3339: the `.info` Time. */
  readonly time: string;
  /** go.sum hash of the zip's files. */
  readonly h1: string;
  /** go.sum hash of the go.mod. */
  readonly goModH1: string;
  readonly zipSha256: string;
  readonly zipSize: number;
}

/** The document of a hosted module (`module/<path>`). */
export interface HostedModule {
  readonly path: string;
  readonly versions: Readonly<Record<string, HostedVersion>>;
}

const moduleKey = (module: string) => `module/${module}`;
/** Asset path of a version's `.zip` or `.mod`, as the URL spells it (case-escaped). */
export const versionAssetPath = (module: string, version: string, ext: 'zip' | 'mod') => `${escapeCase(module)}/@v/${escapeCase(version)}.${ext}`;

export async function loadHostedModule(repo: RepositoryHandle, module: string) {
  return repo.documents.get<HostedModule>(moduleKey(module));
}

/** The `.info` of a version: `{"Version", "Time"}`. */
export const infoOf = (version: string, entry: HostedVersion) => ({ Version: version, Time: entry.time });

/** Tagged versions (no pseudo-versions), as `@v/list` names them. */
export const listedVersions = (module: HostedModule) => Object.keys(module.versions).filter((v) => !isPseudoVersion(v));

/** Stream `body` into a temporary file (the zip reader needs random access), hashing it. */
async function spool(body: Readable, file: string, maxBytes: number): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      if (size > maxBytes) return done(new PayloadTooLargeError(`the module zip is over the ${maxBytes}-byte limit`));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(body, count, createWriteStream(file, { flags: 'wx', mode: 0o600 }));
  return { sha256: hash.digest('hex'), size };
}

/**
 * `PUT <module>/@v/<version>.zip`: check the zip as the go command would before using it,
 * derive its `.mod` and `.info`, and publish all of it at once. A published version never
 * changes (go.sum lines and the checksum database remember its hash): republishing is a 409.
 */
export async function publishZip(ctx: FormatRequestContext, repo: HostedRepositoryHandle, module: string, version: string): Promise<HostedVersion> {
  ctx.authorize('write', module);
  const existing = await loadHostedModule(repo, module);
  if (existing?.value.versions[version]) throw new ConflictError(`${module}@${version} is already published; a published version never changes: publish a new version`);
  const dir = await mkdtemp(path.join(tmpdir(), 'rc-go-'));
  try {
    const file = path.join(dir, 'module.zip');
    const limit = Math.min(MAX_ZIP_BYTES, repo.limits.maxUploadBytes);
    const spooled = await spool(ctx.body as Readable, file, limit);
    if (spooled.size === 0) throw new BadRequestError('invalid module zip: the body is empty');
    const checked = await checkModuleZip(file, module, version);
    const pending: Asset[] = [];
    let recorded = false;
    try {
      pending.push(await repo.assets.put(versionAssetPath(module, version, 'zip'), createReadStream(file), { kind: 'content', contentType: 'application/zip', expect: { sha256: spooled.sha256, size: spooled.size }, pending: true }));
      pending.push(await repo.assets.put(versionAssetPath(module, version, 'mod'), checked.goMod, { kind: 'content', contentType: 'text/plain; charset=utf-8', pending: true }));
      const entry: HostedVersion = { time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), h1: checked.h1, goModH1: checked.goModH1, zipSha256: spooled.sha256, zipSize: spooled.size };
      await repo.documents.update<HostedModule>(moduleKey(module), (current) => {
        if (current?.versions[version]) throw new ConflictError(`${module}@${version} is already published; a published version never changes: publish a new version`);
        return { path: module, versions: { ...current?.versions, [version]: entry } };
      }, { publish: pending });
      recorded = true;
      await repo.components.upsert({ name: module, version, attributes: { h1: checked.h1, goModH1: checked.goModH1 } });
      await ctx.audit('publish', { package: module, version, details: { h1: checked.h1, sha256: spooled.sha256 } });
      return entry;
    } catch (error) {
      if ((error as { status?: number }).status === 409) throw new ConflictError(`${module}@${version} is already published; a published version never changes: publish a new version`);
      throw error;
    } finally {
      if (!recorded) for (const asset of pending) await repo.assets.discard(asset).catch(() => undefined);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `PUT <module>/@v/<version>.mod` or `.info` beside a published zip (tools that upload all
 * three files): accepted when it says what the registry derived from the zip, refused
 * otherwise. The registry never takes them instead of the zip's own.
 */
export async function confirmSidecar(ctx: FormatRequestContext, module: string, version: string, kind: 'mod' | 'info'): Promise<void> {
  const repo = ctx.repository;
  ctx.authorize('write', module);
  const body = await readSmallBody(ctx.body as Readable, kind === 'mod' ? MAX_GO_MOD_BYTES : 64 * 1024, `the .${kind} file`);
  const stored = await loadHostedModule(repo, module);
  const entry = stored?.value.versions[version];
  if (!entry) throw new BadRequestError(`PUT ${module}/@v/${version}.zip first: the .mod and .info are derived from the zip`);
  if (kind === 'mod') {
    const mod = await repo.assets.get(versionAssetPath(module, version, 'mod'));
    if (!mod || !(await mod.read(MAX_GO_MOD_BYTES)).equals(body)) throw new ConflictError(`this .mod differs from the go.mod in ${module}@${version}'s zip`);
    return;
  }
  let info: { Version?: unknown };
  try {
    info = JSON.parse(body.toString('utf8')) as { Version?: unknown };
  } catch {
    throw new BadRequestError('the .info file is not JSON');
  }
  if (info.Version !== version) throw new ConflictError(`the .info names version ${JSON.stringify(info.Version)}, not ${version}`);
}
