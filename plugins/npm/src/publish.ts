import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import semver from 'semver';
import {
  BadRequestError,
  ConflictError,
  DELETE_DOCUMENT,
  ForbiddenError,
  NotFoundError,
  PayloadTooLargeError,
  isRegistryError,
  isSpilledString,
  type Asset,
  type FormatRequestContext,
  type FormatResponse,
  type RepositoryHandle,
} from '@registry-core/api';
import { expectedFromDist, sriFromHex } from './integrity.js';
import { checkManifestMatchesTarball } from './manifest-check.js';
import { parseName, tarballFile, tarballPath, tarballVersion, type PackageName } from './names.js';
import { highestVersion, type Packument, type VersionDocument } from './packument.js';
import { packumentKey } from './reads.js';
import { inspectTarball } from './tarball.js';

/** Longest deprecation message kept. */
const MAX_DEPRECATION = 4096;

/**
 * A dist-tag name: short, URL-safe, and not something npm would read as a version or a
 * range (`1.x` as a tag would shadow the range in `npm install name@1.x`).
 */
export function isValidDistTag(tag: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(tag) && semver.validRange(tag) === null;
}

/** Largest text kept from a spilled field that is not an attachment (a huge readme). */
const MAX_TEXT_FIELD = 4 * 1024 * 1024;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return !!value && typeof value === 'object' && !Array.isArray(value) && !isSpilledString(value);
}

/** Replace spilled strings (other than attachment data) by their text, capped. */
async function materialize(value: unknown): Promise<unknown> {
  if (isSpilledString(value)) return value.size > MAX_TEXT_FIELD ? '' : value.text(MAX_TEXT_FIELD);
  if (Array.isArray(value)) return Promise.all(value.map(materialize));
  if (isObject(value)) {
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) out[k] = await materialize(v);
    return out;
  }
  return value;
}

function revision(doc: { _rev?: string }, count: number): string {
  return `${count}-${createHash('sha256').update(`${count}:${JSON.stringify(doc['_rev'] ?? '')}:${Date.now()}`).digest('hex').slice(0, 32)}`;
}

/**
 * `npm publish`: one new version with its tarball as a base64 attachment. The tarball is
 * verified against `dist.integrity`/`shasum`, inspected (links, paths, package.json) and
 * compared with the JSON manifest, stored, and only then added to the packument.
 */
export async function publish(ctx: FormatRequestContext, name: PackageName): Promise<FormatResponse> {
  const repo = ctx.repository;
  parseName(name.name, { forPublish: true });
  ctx.authorize('write', name.name);
  const body = ctx.body;
  if (!isObject(body)) throw new BadRequestError('the publish body must be a JSON package document');
  if (body['name'] !== name.name) throw new BadRequestError(`the document's name "${String(body['name'])}" does not match the URL's "${name.name}"`);
  const versions = body['versions'];
  const attachments = body['_attachments'];
  if (!isObject(versions) || Object.keys(versions).length !== 1) throw new BadRequestError('a publish must carry exactly one version');
  if (!isObject(attachments) || Object.keys(attachments).length !== 1) throw new BadRequestError('a publish must carry exactly one tarball attachment');
  const [version, rawManifest] = Object.entries(versions)[0]!;
  if (semver.valid(version) !== version) throw new BadRequestError(`"${version}" is not a valid semver version`, 'INVALID_VERSION');
  const manifest = (await materialize(rawManifest)) as Json;
  if (!isObject(manifest) || manifest['version'] !== version || manifest['name'] !== name.name) {
    throw new BadRequestError('the version document must name the same package and version');
  }
  const [attachmentName, attachment] = Object.entries(attachments)[0]!;
  const file = tarballFile(name, version);
  if (attachmentName !== file && attachmentName !== `${name.name}-${version}.tgz`) {
    throw new BadRequestError(`the attachment "${attachmentName}" is not the tarball of ${name.name}@${version} (${file})`);
  }
  if (!isObject(attachment)) throw new BadRequestError('the attachment must be an object with base64 data');
  const data = attachment['data'];
  const dist = manifest['dist'] as VersionDocument['dist'] | undefined;
  const expect = expectedFromDist(dist);
  if (!expect || (!expect.sha512 && !expect.sha1)) throw new BadRequestError('the version has no dist.integrity or dist.shasum to verify the tarball against');

  const existing = await repo.documents.get<Packument>(packumentKey(name));
  if (existing?.value.versions[version]) throw new ForbiddenError(`cannot modify pre-existing version: ${version}`);
  const time = (existing?.value.time ?? {})[version];
  if ((time && !existing?.value.versions[version]) || (await wasUnpublished(repo, name, version))) {
    throw new ForbiddenError(`${name.name}@${version} was published and unpublished before; versions are never reused`);
  }

  const maxBytes = repo.limits.maxUploadBytes;
  const length = attachment['length'];
  if (length !== undefined && (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0)) {
    throw new BadRequestError('the attachment\'s length must be a non-negative integer');
  }
  if (typeof length === 'number' && length > maxBytes) throw new PayloadTooLargeError(`the tarball (${length} bytes) is over the ${maxBytes}-byte limit`);
  let openTarball: () => Readable;
  if (isSpilledString(data)) {
    if (Math.floor((data.size * 3) / 4) > maxBytes + 2) throw new PayloadTooLargeError(`the tarball is over the ${maxBytes}-byte limit`);
    openTarball = () => data.open('base64');
  } else if (typeof data === 'string' && data.length > 0) {
    if (!/^[A-Za-z0-9+/\r\n]*={0,2}$/.test(data)) throw new BadRequestError('the attachment data is not base64');
    openTarball = () => Readable.from([Buffer.from(data, 'base64')]);
  } else {
    throw new BadRequestError('the attachment has no base64 data');
  }
  const readme = await materialize(manifest['readme'] ?? body['readme']);
  const path = tarballPath(name, file);
  // Pending until the packument lists it (one transaction, below): never served before,
  // and what a publish cut short left here is replaced by its retry.
  let asset: Asset;
  try {
    asset = await repo.assets.put(path, openTarball(), {
      kind: 'content',
      contentType: 'application/octet-stream',
      expect,
      maxBytes,
      pending: true,
      // The document announces both (dist.integrity, dist.shasum).
      digests: ['sha1', 'sha512'],
    });
  } catch (error) {
    // A published tarball at the path: the version is (or was) published.
    if (isRegistryError(error) && error.status === 409) throw new ForbiddenError(`cannot modify pre-existing version: ${version}`);
    throw error;
  }
  let facts;
  try {
    if (typeof length === 'number' && asset.size !== length) {
      throw new BadRequestError(`the attachment decodes to ${asset.size} bytes but announces a length of ${length}`, 'INTEGRITY_MISMATCH');
    }
    facts = await inspectTarball(await asset.open(), { maxUnpackedBytes: Math.max(maxBytes * 20, 256 * 1024 * 1024) });
    checkManifestMatchesTarball(manifest, facts.manifest, { hasBindingGyp: facts.hasBindingGyp, base: name.base });
  } catch (error) {
    await repo.assets.discard(asset);
    throw error;
  }

  const now = new Date().toISOString();
  // The publisher as clients show it (`npm view`, `npm search`): the user's name and email.
  const publisher = (await ctx.owners.user(ctx.principal.name)) ?? { name: ctx.principal.name };
  const stored: VersionDocument = {
    ...(manifest as VersionDocument),
    _id: `${name.name}@${version}`,
    _npmUser: { name: publisher.name, ...(publisher.email ? { email: publisher.email } : {}) },
    // Digests of the bytes stored (they matched what the client announced); nothing else
    // of the client's dist (a client cannot bring registry signatures).
    dist: {
      integrity: sriFromHex(await asset.digest('sha512')),
      shasum: await asset.digest('sha1'),
      tarball: path,
      fileCount: facts.fileCount,
      unpackedSize: facts.unpackedSize,
    },
  };
  // Attachments never live in the document; the readme is kept once, at the top level.
  for (const field of ['_attachments', '_rev', 'readme']) delete (stored as Json)[field];
  try {
    await repo.documents.update<Packument>(packumentKey(name), (current) => {
      if (current?.versions[version]) throw new ForbiddenError(`cannot modify pre-existing version: ${version}`);
      const doc: Packument = current ?? { _id: name.name, name: name.name, 'dist-tags': {}, versions: {}, time: { created: now } };
      doc.versions[version] = stored;
      doc.time = { ...doc.time, modified: now, [version]: now };
      const tags = isObject(body['dist-tags']) ? (body['dist-tags'] as Record<string, unknown>) : {};
      for (const [tag, v] of Object.entries(tags)) {
        if (typeof v === 'string' && doc.versions[v] && isValidDistTag(tag)) doc['dist-tags'][tag] = v;
      }
      if (!doc['dist-tags']['latest']) doc['dist-tags']['latest'] = version;
      for (const field of ['description', 'readme', 'keywords', 'license', 'homepage', 'repository', 'bugs', 'author']) {
        const value = field === 'readme' ? readme : manifest[field];
        if (value !== undefined) (doc as Json)[field] = value;
      }
      const maintainers = (doc['maintainers'] as { name: string }[] | undefined) ?? [];
      if (!maintainers.some((m) => m.name === ctx.principal.name)) doc['maintainers'] = [...maintainers, { name: ctx.principal.name }];
      doc._rev = revision(doc, Object.keys(doc.versions).length + Number(doc._rev?.split('-')[0] ?? 0));
      return doc;
    }, { publish: [asset] });
  } catch (error) {
    await repo.assets.discard(asset);
    throw error;
  }
  await repo.components.upsert({
    name: name.name,
    version,
    attributes: {
      description: manifest['description'] ?? '',
      keywords: Array.isArray(manifest['keywords']) ? manifest['keywords'] : [],
      publisher: { username: publisher.name, ...(publisher.email ? { email: publisher.email } : {}) },
    },
  });
  ctx.logger.info('published', { package: name.name, version, user: ctx.principal.name });
  await ctx.audit('publish', { package: name.name, version });
  return { status: 201, body: { kind: 'json', value: { ok: true, id: name.name, success: true } } };
}

/**
 * `PUT /<name>/-rev/<rev>`: the whole document sent back by `npm deprecate` (changed
 * `deprecated` fields) or `npm unpublish <name>@<version>` (a version removed). Only
 * those changes are taken; removing versions needs the delete permission.
 */
export async function updateDocument(ctx: FormatRequestContext, name: PackageName, rev: string): Promise<FormatResponse> {
  const repo = ctx.repository;
  const incoming = (await materialize(ctx.body)) as Packument;
  if (isObject(incoming) && incoming.versions === undefined && Array.isArray(incoming['maintainers'])) return changeMaintainers(ctx, name, rev, incoming['maintainers']);
  if (!isObject(incoming) || !isObject(incoming.versions)) throw new BadRequestError('expected the package document');
  ctx.authorize('write', name.name);
  let removed: string[] = [];
  const deprecations: Record<string, string | null> = {};
  const result = await repo.documents.update<Packument>(packumentKey(name), (current) => {
    if (!current) throw new NotFoundError(`${name.name} is not in ${repo.name}`);
    if (current._rev && rev !== current._rev) throw new ConflictError(`document revision ${rev} is out of date (now ${current._rev}); fetch and retry`);
    for (const v of Object.keys(incoming.versions)) {
      if (!current.versions[v]) throw new BadRequestError(`version ${v} is not published; use npm publish to add versions`);
    }
    removed = Object.keys(current.versions).filter((v) => !(v in incoming.versions));
    if (removed.length) {
      ctx.authorize('delete', name.name);
      if (!unpublishAllowed(repo)) throw new ForbiddenError(`unpublishing is disabled in ${repo.name}`);
    }
    for (const v of removed) delete current.versions[v];
    for (const [v, version] of Object.entries(incoming.versions)) {
      const deprecated = isObject(version) ? version['deprecated'] : undefined;
      const before = current.versions[v]!.deprecated ?? null;
      if (typeof deprecated === 'string' && deprecated !== '') current.versions[v]!.deprecated = deprecated.slice(0, MAX_DEPRECATION);
      else delete current.versions[v]!.deprecated;
      if ((current.versions[v]!.deprecated ?? null) !== before) deprecations[v] = current.versions[v]!.deprecated ?? null;
    }
    if (Object.keys(current.versions).length === 0) return DELETE_DOCUMENT;
    const tags: Record<string, string> = {};
    for (const [tag, v] of Object.entries({ ...current['dist-tags'], ...(isObject(incoming['dist-tags']) ? incoming['dist-tags'] : {}) })) {
      if (typeof v === 'string' && Object.hasOwn(current.versions, v) && (tag === 'latest' || isValidDistTag(tag))) tags[tag] = v;
    }
    if (!tags['latest']) tags['latest'] = highestVersion(Object.keys(current.versions))!;
    current['dist-tags'] = tags;
    const now = new Date().toISOString();
    current.time = { ...current.time, modified: now };
    current._rev = revision(current, Number(current._rev?.split('-')[0] ?? 0) + 1);
    return current;
  });
  await removeVersions(repo, name, removed);
  if (!result) await repo.components.remove(name.name);
  for (const version of removed) await ctx.audit('unpublish', { package: name.name, version });
  for (const [version, message] of Object.entries(deprecations)) {
    await ctx.audit(message === null ? 'undeprecate' : 'deprecate', { package: name.name, version, ...(message !== null ? { details: { message } } : {}) });
  }
  return { status: 200, body: { kind: 'json', value: { ok: true, id: name.name, rev: result?.value._rev } } };
}

/**
 * `PUT /<name>/-rev/<rev>` with `{_id, _rev, maintainers}`: `npm owner add|rm`, the whole
 * new list of maintainers. The registry's owners of the name change to match (the kernel
 * let only an owner or an administrator get here); users are named by `name`.
 */
async function changeMaintainers(ctx: FormatRequestContext, name: PackageName, rev: string, maintainers: readonly unknown[]): Promise<FormatResponse> {
  ctx.authorize('write', name.name);
  const wanted = maintainers.map((m) => (isObject(m) && typeof m['name'] === 'string' ? m['name'] : undefined));
  if (wanted.some((m) => m === undefined || m === '') || wanted.length > 1000) throw new BadRequestError('maintainers must be a list of {"name": "<user>"}');
  const current = await ctx.repository.documents.get<Packument>(packumentKey(name));
  if (!current) throw new NotFoundError(`${name.name} is not in ${ctx.repository.name}`);
  if (current.value._rev && rev !== current.value._rev) throw new ConflictError(`document revision ${rev} is out of date (now ${current.value._rev}); fetch and retry`);
  const want = new Set(wanted as string[]);
  if (want.size === 0) throw new BadRequestError('a package keeps at least one owner');
  const have = (await ctx.owners.list(name.name)).map((o) => o.name);
  for (const user of want) if (!have.includes(user)) await ctx.owners.add(name.name, user);
  for (const user of have) if (!want.has(user)) await ctx.owners.remove(name.name, user);
  return { status: 200, body: { kind: 'json', value: { ok: true, id: name.name, rev: current.value._rev } } };
}

/** `DELETE /<name>/-/<file>/-rev/<rev>`: the tarball of a version already removed from the document. */
export async function deleteTarball(ctx: FormatRequestContext, name: PackageName, file: string): Promise<FormatResponse> {
  const repo = ctx.repository;
  ctx.authorize('delete', name.name);
  if (!unpublishAllowed(repo)) throw new ForbiddenError(`unpublishing is disabled in ${repo.name}`);
  if (tarballVersion(name, file) === undefined) throw new NotFoundError(`${file} is not a tarball of ${name.name}`);
  const doc = await repo.documents.get<Packument>(packumentKey(name));
  const stillListed = doc && Object.values(doc.value.versions).some((v) => v.dist?.tarball?.endsWith(`/-/${file}`));
  if (stillListed) throw new ConflictError(`${file} belongs to a published version; unpublish the version first`);
  if (await repo.assets.delete(tarballPath(name, file))) await ctx.audit('delete', { package: name.name, details: { file } });
  return { status: 200, body: { kind: 'json', value: { ok: true } } };
}

/** `DELETE /<name>/-rev/<rev>`: unpublish a whole package. */
export async function unpublishPackage(ctx: FormatRequestContext, name: PackageName): Promise<FormatResponse> {
  const repo = ctx.repository;
  ctx.authorize('delete', name.name);
  if (!unpublishAllowed(repo)) throw new ForbiddenError(`unpublishing is disabled in ${repo.name}`);
  // Inside the document's lock, and only the tarballs it listed: a publish of this name
  // in flight (tarball stored, document not yet written) keeps its tarball.
  let listed: string[] = [];
  await repo.documents.update<Packument>(packumentKey(name), (current) => {
    if (!current) throw new NotFoundError(`${name.name} is not in ${repo.name}`);
    listed = Object.keys(current.versions);
    return DELETE_DOCUMENT;
  });
  await removeVersions(repo, name, listed);
  await repo.components.remove(name.name);
  ctx.logger.info('unpublished', { package: name.name, user: ctx.principal.name });
  await ctx.audit('unpublish', { package: name.name, details: { versions: listed } });
  return { status: 200, body: { kind: 'json', value: { ok: true } } };
}

/** The repository's `allowUnpublish` (default true). */
export function unpublishAllowed(repo: RepositoryHandle): boolean {
  return repo.config['allowUnpublish'] !== false;
}

/** Key of the versions of a name ever unpublished: they are never published again. */
const tombstoneKey = (name: PackageName) => `unpublished/${name.name}`;

/** True when `version` of `name` was published and unpublished before. */
export async function wasUnpublished(repo: RepositoryHandle, name: PackageName, version: string): Promise<boolean> {
  return ((await repo.kv.get<string[]>(tombstoneKey(name))) ?? []).includes(version);
}

/**
 * Remove versions' tarballs and index entries, and remember the versions: the same
 * name and version must never come back with other bytes (lockfiles pin the integrity).
 */
async function removeVersions(repo: RepositoryHandle, name: PackageName, versions: readonly string[]): Promise<void> {
  if (versions.length === 0) return;
  const previous = (await repo.kv.get<string[]>(tombstoneKey(name))) ?? [];
  await repo.kv.set(tombstoneKey(name), [...new Set([...previous, ...versions])]);
  for (const v of versions) {
    await repo.assets.delete(tarballPath(name, tarballFile(name, v)));
    await repo.components.remove(name.name, v);
  }
}

/** `PUT|DELETE /-/package/<name>/dist-tags/<tag>`. */
export async function changeDistTag(ctx: FormatRequestContext, name: PackageName, tag: string, version: string | undefined): Promise<FormatResponse> {
  const repo = ctx.repository;
  ctx.authorize('write', name.name);
  if (!isValidDistTag(tag)) throw new BadRequestError(`invalid dist-tag "${tag.slice(0, 80)}": letters, digits, . _ - only, and not a version or range`);
  if (version === undefined && tag === 'latest') throw new BadRequestError('the latest tag cannot be removed');
  await repo.documents.update<Packument>(packumentKey(name), (current) => {
    if (!current) throw new NotFoundError(`${name.name} is not in ${repo.name}`);
    if (version !== undefined) {
      if (!current.versions[version]) throw new NotFoundError(`${name.name}@${version} does not exist`);
      current['dist-tags'] = { ...current['dist-tags'], [tag]: version };
    } else {
      if (!(tag in current['dist-tags'])) throw new NotFoundError(`${name.name} has no dist-tag ${tag}`);
      delete current['dist-tags'][tag];
    }
    current.time = { ...current.time, modified: new Date().toISOString() };
    current._rev = revision(current, Number(current._rev?.split('-')[0] ?? 0) + 1);
    return current;
  });
  await ctx.audit(version !== undefined ? 'tag' : 'untag', { package: name.name, ...(version !== undefined ? { version } : {}), details: { tag } });
  return { status: 201, body: { kind: 'json', value: { ok: true } } };
}
