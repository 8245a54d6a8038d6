import type { Readable } from 'node:stream';
import {
  BadRequestError,
  ConflictError,
  IntegrityError,
  NotFoundError,
  assetResponse,
  readSmallBody,
  type Asset,
  type ExpectedDigests,
  type FormatRequestContext,
  type FormatResponse,
  type RepositoryHandle,
  type StoredDocument,
} from '@registry-core/api';
import { mavenConfig, policyAllows, policyRefusal } from './config.js';
import { listStored, type ListingEntry } from './listing.js';
import { lastUpdatedStamp, parseIvyCoordinates, parseMetadata, parsePomCoordinates, versionsSummary, type MavenMetadata, type PluginEntry, type SnapshotVersion } from './metadata.js';
import { DIGEST_LENGTH, METADATA_FILE, type ArtifactPath, type ChecksumAlgorithm, type MetadataPath } from './paths.js';
import { checksumResponse, contentTypeOf, sidecarDigest, textResponse } from './responses.js';

/** Largest POM or metadata file read into memory to check it. */
const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;
/** Largest sidecar checksum body. */
const MAX_SIDECAR_BYTES = 1024;

/** The versions of one artifact (`artifact/<groupId>:<artifactId>`). */
interface HostedArtifact {
  readonly groupId: string;
  readonly artifactId: string;
  /** version → when it was first deployed (ISO). */
  readonly versions: Readonly<Record<string, string>>;
  /** `yyyyMMddHHmmss` of the last change. */
  readonly lastUpdated: string;
}

/** The deployed builds of one SNAPSHOT version (`snapshot/<groupId>:<artifactId>:<version>`). */
interface HostedSnapshot {
  /** Newest build: its timestamp and number. */
  readonly latest?: Build;
  /** `<classifier>:<extension>` → newest build of that file. */
  readonly files: Readonly<Record<string, SnapshotVersion & Build>>;
  readonly lastUpdated: string;
}

/** A SNAPSHOT build: `yyyyMMdd.HHmmss` and its number. */
interface Build {
  readonly timestamp: string;
  readonly buildNumber: number;
}

/** The later of two builds (by number, then time). */
const newerBuild = (a: Build, b: Build | undefined) => !b || a.buildNumber > b.buildNumber || (a.buildNumber === b.buildNumber && a.timestamp > b.timestamp);

/** Plugin prefixes of a group (`plugins/<groupId>`), from group-level metadata deploys. */
interface HostedPlugins {
  readonly plugins: readonly PluginEntry[];
}

/** The component "version" that stands for a groupId's plugin prefixes (they have none). */
export const PLUGIN_PREFIXES = 'plugin-prefixes';

const artifactKey = (groupId: string, artifactId: string) => `artifact/${groupId}:${artifactId}`;
const snapshotKey = (groupId: string, artifactId: string, version: string) => `snapshot/${groupId}:${artifactId}:${version}`;
const pluginsKey = (groupId: string) => `plugins/${groupId}`;
/** Checksums a client sent before the file they describe (checked when the file comes). */
const expectKey = (path: string) => `expect/${path}`;
/** Marks a checksum sidecar a client deployed (verified against its file), one key each. */
const sidecarKey = (path: string, algorithm: ChecksumAlgorithm) => `sidecar/${path}.${algorithm}`;

/** The versions deployed of one artifact of a hosted repository (version → first deploy time). */
export async function hostedVersions(repo: RepositoryHandle, groupId: string, artifactId: string): Promise<Readonly<Record<string, string>> | undefined> {
  return (await repo.documents.get<HostedArtifact>(artifactKey(groupId, artifactId)))?.value.versions;
}

/** The package name permission rules see: `groupId:artifactId`. */
export const packageOf = (target: { groupId: string; artifactId: string }) => `${target.groupId}:${target.artifactId}`;

/** Let an upload that is refused before it is read go (the client is still sending it). */
export function drainBody(ctx: FormatRequestContext): void {
  (ctx.body as NodeJS.ReadableStream | undefined)?.resume();
}

/** The refusal of a deploy to a path that names no artifact (nor metadata). */
export function notAnArtifact(path: string): BadRequestError {
  return new BadRequestError(
    `/${path} does not name an artifact: expected <groupId as folders>/<artifactId>/<version>/<artifactId>-<version>[-<classifier>].<extension>`,
    'COORDINATES_MISMATCH',
  );
}

function refuseUnless(condition: boolean, message: string): void {
  if (!condition) throw new BadRequestError(message, 'COORDINATES_MISMATCH');
}

/** A POM must be XML, and the coordinates it states must be the ones its path names. */
function checkPom(bytes: Buffer, target: ArtifactPath): void {
  const pom = parsePomCoordinates(bytes.toString('utf8'));
  const literal = (value: string | undefined) => (value !== undefined && !value.includes('${') ? value : undefined);
  const groupId = literal(pom.groupId);
  const artifactId = literal(pom.artifactId);
  const version = literal(pom.version);
  refuseUnless(pom.artifactId !== undefined, 'the POM names no artifactId');
  refuseUnless(groupId === undefined || groupId === target.groupId, `the POM's groupId ${groupId} is not ${target.groupId}, which its path names`);
  refuseUnless(artifactId === undefined || artifactId === target.artifactId, `the POM's artifactId ${artifactId} is not ${target.artifactId}, which its path names`);
  refuseUnless(version === undefined || version === target.version, `the POM's version ${version} is not ${target.version}, which its path names`);
}

/**
 * An Ivy descriptor must be XML with an `<info>` whose organisation, module and revision are
 * the groupId, artifactId and version its path names (absent ones are not checked).
 */
function checkIvyDescriptor(bytes: Buffer, target: ArtifactPath): void {
  const ivy = parseIvyCoordinates(bytes.toString('utf8'));
  refuseUnless(ivy.organisation === undefined || ivy.organisation === target.groupId, `the Ivy descriptor's organisation ${ivy.organisation} is not ${target.groupId}, which its path names`);
  refuseUnless(ivy.module === undefined || ivy.module === target.artifactId, `the Ivy descriptor's module ${ivy.module} is not ${target.artifactId}, which its path names`);
  refuseUnless(ivy.revision === undefined || ivy.revision === target.version, `the Ivy descriptor's revision ${ivy.revision} is not ${target.version}, which its path names`);
}

/** `PUT` of an artifact file (jar, pom, classifier, signature) to a hosted repository. */
export async function deployFile(ctx: FormatRequestContext, target: ArtifactPath): Promise<FormatResponse> {
  const repo = ctx.repository;
  const body = ctx.body as Readable;
  const config = mavenConfig(repo.config);
  const name = target.path.slice(target.path.lastIndexOf('/') + 1);
  ctx.authorize('write', packageOf(target));
  if (!policyAllows(config.versionPolicy, target.snapshot)) throw policyRefusal(repo.name, config.versionPolicy, target.version);
  // Release files are immutable unless the repository says otherwise; SNAPSHOT builds never are.
  const immutable = !target.snapshot && !config.allowRedeploy;
  let source: Readable | Buffer = body;
  if (target.extension === 'pom' && target.classifier === undefined) {
    source = await readSmallBody(body, MAX_DOCUMENT_BYTES, 'the POM');
    checkPom(source, target);
  } else if (target.descriptor === 'ivy') {
    source = await readSmallBody(body, MAX_DOCUMENT_BYTES, 'the Ivy descriptor');
    checkIvyDescriptor(source, target);
  }
  const expected = await repo.kv.get<ExpectedDigests>(expectKey(target.path));
  const existed = (await repo.assets.get(target.path)) !== undefined;
  let stored: Asset;
  try {
    stored = await repo.assets.put(target.path, source, {
      // What may be replaced (a redeployable release, a non-unique SNAPSHOT file) is never
      // announced as immutable to clients and caches.
      kind: immutable || target.build !== undefined ? 'content' : 'metadata',
      contentType: contentTypeOf(name),
      maxBytes: repo.limits.maxUploadBytes,
      createOnly: immutable,
      // The same bytes again (a deploy retried after a crash, or after it had landed) are
      // not a conflict: mvn deploy can always complete.
      sameBytesOk: immutable,
      // A new file is not served until the documents metadata is built from list its
      // version (published with them, in one transaction); a retry replaces it.
      pending: !existed,
      // Every Maven client asks for these two; .sha256 and .sha512 are computed when first asked.
      digests: ['sha1', 'md5'],
      ...(expected ? { expect: expected } : {}),
      attributes: { groupId: target.groupId, artifactId: target.artifactId, version: target.version },
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'CONFLICT') throw new ConflictError(`${name} is already deployed to ${repo.name}: release versions cannot be redeployed (allowRedeploy: false)`);
    if (code === 'INTEGRITY_MISMATCH') {
      // The checksum is spent: kept, it would refuse every later deploy of the file, and mvn
      // (the file first, its checksums after) could never deploy it again.
      if (expected) await repo.kv.delete(expectKey(target.path));
      throw new IntegrityError(`${name} does not match the checksum deployed for it before it (now dropped: deploy the file and its checksums again)`);
    }
    throw error;
  }
  try {
    await recordDeploy(repo, target, existed ? [] : [stored]);
  } catch (error) {
    // The file is only served once the versions know it: a new file that is not recorded goes.
    await repo.assets.discard(stored).catch(() => undefined);
    throw error;
  }
  if (expected) {
    for (const algorithm of Object.keys(expected) as ChecksumAlgorithm[]) await repo.kv.set(sidecarKey(target.path, algorithm), true);
    await repo.kv.delete(expectKey(target.path));
  }
  await repo.components.upsert({ name: packageOf(target), version: target.version, attributes: { groupId: target.groupId, artifactId: target.artifactId } });
  await ctx.audit('publish', { package: packageOf(target), version: target.version, details: { file: name } });
  return textResponse(201, `Created ${name}`);
}

/**
 * Add the deployed file's version (and SNAPSHOT build) to the documents metadata is built
 * from, publishing `pending` (the new file) with the last of them: the one that lists it.
 */
async function recordDeploy(repo: RepositoryHandle, target: ArtifactPath, pending: readonly Asset[]): Promise<void> {
  const now = new Date();
  const stamp = lastUpdatedStamp(now);
  await repo.documents.update<HostedArtifact>(artifactKey(target.groupId, target.artifactId), (current) => {
    if (current?.versions[target.version] && !target.build) return current;
    return {
      groupId: target.groupId,
      artifactId: target.artifactId,
      versions: { ...current?.versions, [target.version]: current?.versions[target.version] ?? now.toISOString() },
      lastUpdated: stamp,
    };
  }, target.build ? {} : { publish: pending });
  const build = target.build;
  if (!build) return;
  await repo.documents.update<HostedSnapshot>(snapshotKey(target.groupId, target.artifactId, target.version), (current) => {
    const key = `${target.classifier ?? ''}:${target.extension}`;
    const file = { ...(target.classifier !== undefined ? { classifier: target.classifier } : {}), extension: target.extension, value: target.fileVersion, updated: stamp, ...build };
    return {
      latest: newerBuild(build, current?.latest) ? build : current!.latest!,
      files: { ...current?.files, ...(newerBuild(build, current?.files[key]) ? { [key]: file } : {}) },
      lastUpdated: stamp,
    };
  }, { publish: pending });
}

/** `PUT` of a checksum sidecar: checked against the file it describes (or kept until it comes). */
export async function deploySidecar(ctx: FormatRequestContext, target: ArtifactPath, algorithm: ChecksumAlgorithm): Promise<FormatResponse> {
  const repo = ctx.repository;
  const config = mavenConfig(repo.config);
  const name = `${target.path.slice(target.path.lastIndexOf('/') + 1)}.${algorithm}`;
  ctx.authorize('write', packageOf(target));
  if (!policyAllows(config.versionPolicy, target.snapshot)) throw policyRefusal(repo.name, config.versionPolicy, target.version);
  const text = (await readSmallBody(ctx.body as Readable, MAX_SIDECAR_BYTES, `the checksum ${name}`)).toString('utf8');
  const digest = sidecarDigest(text, DIGEST_LENGTH[algorithm]);
  if (!digest) throw new BadRequestError(`${name} is not a ${algorithm} checksum (${DIGEST_LENGTH[algorithm]} hex digits)`, 'INVALID_CHECKSUM');
  const stored = await repo.assets.get(target.path);
  if (stored) {
    const actual = await stored.digest(algorithm);
    if (actual !== digest) throw new IntegrityError(`${name} says ${digest}, but the deployed file's ${algorithm} is ${actual}`);
    // Checksums are served from the stored file's own digests: only that it was deployed is kept.
    await repo.kv.set(sidecarKey(target.path, algorithm), true);
    return textResponse(201, `Verified ${name}`);
  }
  await repo.kv.set(expectKey(target.path), { ...(await repo.kv.get<ExpectedDigests>(expectKey(target.path))), [algorithm]: digest });
  return textResponse(201, `Recorded ${name}`);
}

/** The folder's segments as the coordinates of each kind of metadata it may hold. */
function metadataCoordinates(directory: readonly string[]) {
  const last = directory[directory.length - 1]!;
  return {
    snapshot: last.endsWith('-SNAPSHOT') && directory.length >= 3 ? { groupId: directory.slice(0, -2).join('.'), artifactId: directory[directory.length - 2]!, version: last } : undefined,
    artifact: directory.length >= 2 ? { groupId: directory.slice(0, -1).join('.'), artifactId: last } : undefined,
    group: directory.join('.'),
  };
}

/**
 * `PUT maven-metadata.xml`: checked (XML, coordinates of its folder) but not stored: the
 * repository rebuilds metadata from what was deployed. Plugin prefixes of group-level
 * metadata, which no deployed file states, are kept.
 */
export async function deployMetadata(ctx: FormatRequestContext, target: MetadataPath): Promise<FormatResponse> {
  const repo = ctx.repository;
  const at = metadataCoordinates(target.directory);
  // A SNAPSHOT version's folder, refused by policy before its body is read: through a group,
  // the next hosted member reads it.
  const { versionPolicy } = mavenConfig(repo.config);
  if (at.snapshot && !policyAllows(versionPolicy, true)) throw policyRefusal(repo.name, versionPolicy, at.snapshot.version);
  const bytes = await readSmallBody(ctx.body as Readable, MAX_DOCUMENT_BYTES, METADATA_FILE);
  if (target.checksum) return textResponse(201, `Ignored ${METADATA_FILE}.${target.checksum}: this repository computes metadata checksums itself`);
  const metadata = parseMetadata(bytes.toString('utf8'));
  if (metadata.version !== undefined && at.snapshot && metadata.versioning?.snapshot) {
    refuseUnless(metadata.groupId === at.snapshot.groupId && metadata.artifactId === at.snapshot.artifactId && metadata.version === at.snapshot.version, `${METADATA_FILE} names ${metadata.groupId}:${metadata.artifactId}:${metadata.version}, not ${at.snapshot.groupId}:${at.snapshot.artifactId}:${at.snapshot.version}, which its path names`);
    ctx.authorize('write', packageOf(at.snapshot));
  } else if (metadata.artifactId !== undefined) {
    refuseUnless(at.artifact !== undefined && metadata.groupId === at.artifact.groupId && metadata.artifactId === at.artifact.artifactId, `${METADATA_FILE} names ${metadata.groupId}:${metadata.artifactId}, not the artifact its path names`);
    ctx.authorize('write', packageOf(at.artifact!));
  } else if (metadata.plugins.length > 0) {
    refuseUnless(metadata.groupId === undefined || metadata.groupId === at.group, `${METADATA_FILE} names the group ${metadata.groupId}, not ${at.group}, which its path names`);
    for (const plugin of metadata.plugins) refuseUnless(/^[A-Za-z0-9_.-]+$/.test(plugin.prefix) && /^[A-Za-z0-9_.-]+$/.test(plugin.artifactId), `bad plugin entry ${plugin.prefix}`);
    ctx.authorize('write', `${at.group}:*`);
    await repo.documents.update<HostedPlugins>(pluginsKey(at.group), (current) => {
      const known = new Map((current?.plugins ?? []).map((p) => [p.prefix, p]));
      let changed = false;
      for (const plugin of metadata.plugins) {
        if (known.get(plugin.prefix)?.artifactId === plugin.artifactId && known.get(plugin.prefix)?.name === plugin.name) continue;
        known.set(plugin.prefix, plugin);
        changed = true;
      }
      return changed || !current ? { plugins: [...known.values()].sort((a, b) => (a.prefix < b.prefix ? -1 : 1)) } : current;
    });
    // The folder's name as an artifact's: a group asks its owner for this folder's metadata,
    // so the repository holding the prefixes must own the name (see readPlan).
    if (at.artifact) await repo.components.upsert({ name: packageOf(at.artifact), version: PLUGIN_PREFIXES, attributes: { pluginGroup: at.group } });
  } else {
    throw new BadRequestError(`${METADATA_FILE} names no artifact and no plugins`, 'COORDINATES_MISMATCH');
  }
  return textResponse(201, `Accepted ${METADATA_FILE}; the repository keeps its own`);
}

/** A stored document's identity: its revision and change time (a deleted and recreated document starts its revisions again); `-` when absent. */
const identity = (doc: StoredDocument<unknown> | undefined) => (doc ? `${doc.revision}.${doc.updatedAt.getTime()}` : '-');

/**
 * The metadata this repository holds for a folder, rebuilt from what was deployed there,
 * with a revision naming every stored document it was built from (the SNAPSHOT version's,
 * or the artifact's and the group's plugin prefixes), for the rendering kept of it.
 */
export async function hostedMetadataDocument(repo: RepositoryHandle, directory: readonly string[]): Promise<{ value: MavenMetadata; revision: string } | undefined> {
  const at = metadataCoordinates(directory);
  const revision = (...parts: string[]) => ['hosted', repo.name, directory.join('/'), ...parts].join('\u0000');
  if (at.snapshot) {
    const doc = await repo.documents.get<HostedSnapshot>(snapshotKey(at.snapshot.groupId, at.snapshot.artifactId, at.snapshot.version));
    if (doc) {
      const files = Object.entries(doc.value.files)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([, { buildNumber: _n, timestamp: _t, ...file }]) => file);
      return {
        value: {
          ...at.snapshot,
          versioning: { versions: [], lastUpdated: doc.value.lastUpdated, ...(doc.value.latest ? { snapshot: doc.value.latest } : {}), snapshotVersions: files },
          plugins: [],
        },
        revision: revision('snapshot', identity(doc)),
      };
    }
  }
  const artifact = at.artifact ? await repo.documents.get<HostedArtifact>(artifactKey(at.artifact.groupId, at.artifact.artifactId)) : undefined;
  const plugins = await repo.documents.get<HostedPlugins>(pluginsKey(at.group));
  if (!artifact && !plugins) return undefined;
  return {
    value: {
      ...(artifact ? { groupId: artifact.value.groupId, artifactId: artifact.value.artifactId } : {}),
      ...(artifact ? { versioning: { ...versionsSummary(Object.keys(artifact.value.versions)), lastUpdated: artifact.value.lastUpdated, snapshotVersions: [] } } : {}),
      plugins: plugins?.value.plugins ?? [],
    },
    // A SNAPSHOT folder without its document is built from the others: "-" says so.
    revision: revision('artifact', at.snapshot ? '-' : '', identity(artifact), identity(plugins)),
  };
}

/** The metadata this repository holds for a folder, rebuilt from what was deployed there. */
export async function hostedMetadata(repo: RepositoryHandle, directory: readonly string[]): Promise<MavenMetadata | undefined> {
  return (await hostedMetadataDocument(repo, directory))?.value;
}

/**
 * The package permission rules see for a metadata folder: its SNAPSHOT version's or its
 * artifact's `groupId:artifactId` (for group-level metadata, the last folder as artifactId).
 */
export function metadataPackage(directory: readonly string[]): string {
  const at = metadataCoordinates(directory);
  return packageOf(at.snapshot ?? at.artifact ?? { groupId: at.group, artifactId: '' });
}

/** `GET` of a stored file or its checksum on a hosted repository. */
export async function getHostedFile(ctx: FormatRequestContext, target: ArtifactPath): Promise<FormatResponse> {
  const stored = await findHostedFile(ctx, target);
  const name = `${target.path}${target.checksum ? `.${target.checksum}` : ''}`;
  if (!stored) throw new NotFoundError(`${name} is not in ${ctx.repository.name}`);
  // A GET of a checksum nobody deployed is computed from the file (every client verifies
  // downloads so), but a HEAD of it is the existence check Ivy makes before each put
  // (`overwrite="false"`, its default): there it is not there until a client deploys it.
  if (target.checksum && ctx.method === 'HEAD' && !(await ctx.repository.kv.get<boolean>(sidecarKey(target.path, target.checksum)))) {
    throw new NotFoundError(`${name} was not deployed to ${ctx.repository.name} (a GET computes it from the file)`);
  }
  return storedFileResponse(stored, target);
}

/** The stored file a request names (its read rules checked), or `undefined`. */
export async function findHostedFile(ctx: FormatRequestContext, target: ArtifactPath): Promise<Asset | undefined> {
  ctx.authorize('read', packageOf(target));
  return ctx.repository.assets.get(target.path);
}

/** A stored file, or the checksum asked for (from the stored file's own digests). */
export async function storedFileResponse(stored: Asset, target: ArtifactPath): Promise<FormatResponse> {
  return target.checksum ? checksumResponse(await stored.digest(target.checksum), stored.kind === 'content' ? 'immutable' : 'metadata') : assetResponse(stored);
}

/** A hosted folder's entries: stored files, plus the metadata files the repository builds. */
export async function hostedListing(repo: RepositoryHandle, segments: readonly string[]): Promise<ListingEntry[]> {
  const entries = await listStored(repo.assets, segments.length === 0 ? '' : `${segments.join('/')}/`);
  if (segments.length > 0 && (await hostedMetadata(repo, segments))) entries.push({ name: METADATA_FILE, directory: false });
  return entries;
}
