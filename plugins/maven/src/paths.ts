import { BadRequestError, isSafePathSegment } from '@registry-core/api';

/** Checksum sidecars Maven and Gradle read and write, by file suffix. */
export const CHECKSUMS = ['md5', 'sha1', 'sha256', 'sha512'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUMS)[number];

/** Hex length of each algorithm's digest. */
export const DIGEST_LENGTH: Readonly<Record<ChecksumAlgorithm, number>> = { md5: 32, sha1: 40, sha256: 64, sha512: 128 };

export const METADATA_FILE = 'maven-metadata.xml';

/** Characters of a path segment: what Maven coordinates and file names use, nothing else. */
const SEGMENT = /^[A-Za-z0-9_.+~=@-]+$/;
/** groupId parts and artifactIds (Maven's own rule: `[A-Za-z0-9_\-.]+`). */
const ID = /^[A-Za-z0-9_.-]+$/;
/** Versions: no path, shell or XML characters. */
const VERSION = /^[A-Za-z0-9][A-Za-z0-9_.+~-]*$/;
/** Extensions (`jar`, `pom`, `tar.gz`, `jar.asc`) start with a letter: `a-1.0.1.jar` is not version 1.0. */
const EXTENSION = /^[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*$/;

/** An artifact file: its coordinates as the path names them. */
export interface ArtifactPath {
  readonly kind: 'artifact';
  /** Path inside the repository without the leading `/` and without a checksum suffix. */
  readonly path: string;
  readonly groupId: string;
  readonly artifactId: string;
  /** The version directory (`1.0`, `1.0-SNAPSHOT`). */
  readonly version: string;
  /** The version in the file name (`1.0-20240101.120000-3` for a deployed SNAPSHOT build). */
  readonly fileVersion: string;
  readonly classifier?: string;
  /** Everything after the version and classifier: `jar`, `pom`, `jar.asc`, `tar.gz`. */
  readonly extension: string;
  readonly snapshot: boolean;
  /** For a timestamped SNAPSHOT build: `yyyyMMdd.HHmmss` and the build number. */
  readonly build?: { readonly timestamp: string; readonly buildNumber: number };
  readonly checksum?: ChecksumAlgorithm;
  /**
   * `ivy`: the version's Ivy descriptor, `ivy-<version>.xml` in the version's folder (Ivy's
   * `[organisation]/[module]/[revision]/ivy-[revision].xml` with `m2compatible`), a file of
   * the module like its POM.
   */
  readonly descriptor?: 'ivy';
}

/** A `maven-metadata.xml` (or its checksum) in directory `directory`. */
export interface MetadataPath {
  readonly kind: 'metadata';
  readonly path: string;
  /** The folder's segments: groupId parts + artifactId (+ version for SNAPSHOT metadata). */
  readonly directory: readonly string[];
  readonly checksum?: ChecksumAlgorithm;
}

/** Any other file (an archetype catalog, `.meta/prefixes.txt`): served as it is by proxies. */
export interface OtherPath {
  readonly kind: 'other';
  readonly path: string;
  readonly segments: readonly string[];
  readonly checksum?: ChecksumAlgorithm;
}

/** A folder, for the HTML listing. */
export interface DirectoryPath {
  readonly kind: 'directory';
  /** With a trailing `/`, empty for the repository root. */
  readonly path: string;
  readonly segments: readonly string[];
}

export type MavenPath = ArtifactPath | MetadataPath | OtherPath | DirectoryPath;

function invalid(message: string): never {
  throw new BadRequestError(message, 'INVALID_PATH');
}

/**
 * Decode and check a request path (as received, percent-encoded, starting with `/`):
 * every segment must be safe (no `..`, separators, control characters, encoded slashes)
 * and made of the characters Maven paths use. Throws a BadRequestError otherwise.
 */
export function splitPath(raw: string): { segments: string[]; directory: boolean } {
  if (!raw.startsWith('/')) invalid('path must start with /');
  const body = raw.slice(1);
  const directory = body === '' || body.endsWith('/');
  const parts = body === '' ? [] : (directory ? body.slice(0, -1) : body).split('/');
  const segments = parts.map((part) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(part);
    } catch {
      invalid(`bad percent-encoding in ${JSON.stringify(part.slice(0, 80))}`);
    }
    if (!isSafePathSegment(decoded) || !SEGMENT.test(decoded)) invalid(`path segment ${JSON.stringify(decoded.slice(0, 80))} is not allowed in a Maven repository`);
    return decoded;
  });
  return { segments, directory };
}

function stripChecksum(filename: string): { name: string; checksum?: ChecksumAlgorithm } {
  for (const algorithm of CHECKSUMS) {
    if (filename.endsWith(`.${algorithm}`) && filename.length > algorithm.length + 1) return { name: filename.slice(0, -algorithm.length - 1), checksum: algorithm };
  }
  return { name: filename };
}

/**
 * The file name's coordinates, when `segments` is `<group parts>/<artifactId>/<version>/<file>`
 * and the file is `<artifactId>-<version>[-<classifier>].<extension>` (for a SNAPSHOT
 * version, the version may be a timestamped build of it). `undefined` when not.
 */
function artifactOf(segments: readonly string[], name: string, checksum: ChecksumAlgorithm | undefined): ArtifactPath | undefined {
  if (segments.length < 4) return undefined;
  const group = segments.slice(0, -3);
  const artifactId = segments[segments.length - 3]!;
  const version = segments[segments.length - 2]!;
  if (!group.every((g) => ID.test(g)) || !ID.test(artifactId) || !VERSION.test(version)) return undefined;
  const snapshotVersion = version.endsWith('-SNAPSHOT');
  // An artifact named `ivy` keeps `ivy-<version>.xml` as an artifact file of its own.
  if (name === `ivy-${version}.xml` && artifactId !== 'ivy') {
    const path = [...segments.slice(0, -1), name].join('/');
    return { kind: 'artifact', path, groupId: group.join('.'), artifactId, version, fileVersion: version, extension: 'xml', snapshot: snapshotVersion, descriptor: 'ivy', ...(checksum ? { checksum } : {}) };
  }
  if (!name.startsWith(`${artifactId}-`)) return undefined;
  const afterId = name.slice(artifactId.length + 1);
  const snapshot = snapshotVersion;
  let fileVersion: string | undefined;
  let build: ArtifactPath['build'];
  if (afterId.startsWith(version) && /^[.-]/.test(afterId.slice(version.length))) fileVersion = version;
  else if (snapshot) {
    const base = version.slice(0, -'-SNAPSHOT'.length);
    const m = new RegExp(`^${base.replace(/[.+]/g, '\\$&')}-(\\d{8}\\.\\d{6})-(\\d{1,9})(?=[.-])`).exec(afterId);
    if (m) {
      fileVersion = `${base}-${m[1]}-${m[2]}`;
      build = { timestamp: m[1]!, buildNumber: Number(m[2]) };
    }
  }
  if (fileVersion === undefined) return undefined;
  const rest = afterId.slice(fileVersion.length);
  let classifier: string | undefined;
  let extension: string;
  if (rest.startsWith('-')) {
    const dot = rest.indexOf('.');
    if (dot < 2) return undefined;
    classifier = rest.slice(1, dot);
    extension = rest.slice(dot + 1);
  } else {
    extension = rest.slice(1);
  }
  if (!EXTENSION.test(extension) || (classifier !== undefined && !ID.test(classifier))) return undefined;
  return {
    kind: 'artifact',
    path: [...segments.slice(0, -1), name].join('/'),
    groupId: group.join('.'),
    artifactId,
    version,
    fileVersion,
    ...(classifier !== undefined ? { classifier } : {}),
    extension,
    snapshot,
    ...(build ? { build } : {}),
    ...(checksum ? { checksum } : {}),
  };
}

/** Classify a request path (see {@link splitPath} for what is refused). */
export function parseMavenPath(raw: string): MavenPath {
  const { segments, directory } = splitPath(raw);
  if (directory) return { kind: 'directory', path: segments.length === 0 ? '' : `${segments.join('/')}/`, segments };
  const { name, checksum } = stripChecksum(segments[segments.length - 1]!);
  const dir = segments.slice(0, -1);
  const path = [...dir, name].join('/');
  if (name === METADATA_FILE && dir.length >= 1) return { kind: 'metadata', path, directory: dir, ...(checksum ? { checksum } : {}) };
  return artifactOf(segments, name, checksum) ?? { kind: 'other', path, segments: [...dir, name], ...(checksum ? { checksum } : {}) };
}
