import { crc32 } from 'node:zlib';
import { BadRequestError } from '@registry-core/api';
import { ZonError, parseZon, type ZonValue } from './zon.js';

/** What a `build.zig.zon` says that the registry uses. */
export interface ZigManifest {
  readonly name: string;
  readonly version: string;
  /** `.paths`, when given: what the package consists of (zig 0.12 and later hash only these). */
  readonly paths?: readonly string[];
  /** The package id (the low 32 bits of `.fingerprint`), when the manifest is of zig 0.14's form. */
  readonly id?: number;
  readonly minimumZigVersion?: string;
  /** `.dependencies`: name to URL and hash (or path), as declared. */
  readonly dependencies: Readonly<Record<string, { readonly url?: string; readonly hash?: string; readonly path?: string }>>;
}

/** Longest name and version: zig 0.14 puts both in the package hash and refuses longer ones. */
export const MAX_NAME_BYTES = 32;
export const MAX_VERSION_BYTES = 32;

/**
 * A package name as this registry accepts it: a Zig identifier (what zig 0.14 requires of
 * `.name`), or, for manifests of older zig whose name is a string, also with `-`.
 */
const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** Semantic version 2.0.0, as `std.SemanticVersion.parse` takes it (no leading zeros). */
const NUM = '(?:0|[1-9][0-9]*)';
const PRE_ID = '(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)';
const SEMVER = new RegExp(`^${NUM}\\.${NUM}\\.${NUM}(?:-${PRE_ID}(?:\\.${PRE_ID})*)?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?$`);

function refuse(message: string): never {
  throw new BadRequestError(message);
}

/** A package name from a client or an archive; refused (400) unless it is one zig accepts. */
export function validatePackageName(name: string): string {
  if (typeof name !== 'string' || name.length === 0 || Buffer.byteLength(name) > MAX_NAME_BYTES || !NAME.test(name)) {
    refuse(`invalid package name ${JSON.stringify(String(name).slice(0, 64))}: a Zig identifier (letters, digits, _; - for older manifests), at most ${MAX_NAME_BYTES} bytes`);
  }
  return name;
}

/** A version from a client or an archive; refused (400) unless it is a semantic version zig accepts. */
export function validateVersion(version: string): string {
  if (typeof version !== 'string' || Buffer.byteLength(version) > MAX_VERSION_BYTES || !SEMVER.test(version)) {
    refuse(`invalid version ${JSON.stringify(String(version).slice(0, 64))}: a semantic version (1.2.3, 1.2.3-rc.1) of at most ${MAX_VERSION_BYTES} bytes`);
  }
  return version;
}

/** A `.paths` entry: relative, inside the package, no `..`, no backslash. */
function validateIncludePath(path: string): string {
  if (path.includes('\0') || path.includes('\\') || path.startsWith('/') || path.split('/').includes('..') || path.length > 4096) {
    refuse(`build.zig.zon: .paths entry ${JSON.stringify(path.slice(0, 64))} is not a relative path inside the package`);
  }
  // zig normalizes "a/b/" and "./a" to "a/b" and "a".
  return path.split('/').filter((s) => s !== '' && s !== '.').join('/');
}

const str = (v: ZonValue | undefined): string | undefined => (v?.kind === 'string' ? v.value : undefined);

/** Parse and check a `build.zig.zon` (its bytes, at most `maxBytes`). Refusals are 400s naming what is wrong. */
export function parseManifest(bytes: Buffer): ZigManifest {
  let root: ZonValue;
  try {
    const text = bytes.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(bytes)) refuse('build.zig.zon is not valid UTF-8');
    root = parseZon(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    if (error instanceof ZonError) refuse(`build.zig.zon cannot be parsed: ${error.message}`);
    throw error;
  }
  if (root.kind !== 'struct') refuse('build.zig.zon must be a struct literal .{ ... }');
  const fields = root.fields;

  const nameValue = fields.get('name');
  let name: string;
  if (nameValue?.kind === 'string') name = nameValue.value;
  else if (nameValue?.kind === 'enum' && !nameValue.quoted) name = nameValue.value;
  else refuse('build.zig.zon: .name is required (an enum literal such as .my_lib, or a string for zig before 0.14)');
  validatePackageName(name);
  if (nameValue.kind === 'enum' && name.includes('-')) refuse('build.zig.zon: .name must be a Zig identifier');

  const version = str(fields.get('version'));
  if (version === undefined) refuse('build.zig.zon: .version is required (a string such as "1.2.3")');
  validateVersion(version);

  let paths: string[] | undefined;
  const pathsValue = fields.get('paths');
  if (pathsValue !== undefined) {
    const items = pathsValue.kind === 'tuple' ? pathsValue.items : pathsValue.kind === 'struct' && pathsValue.fields.size === 0 ? [] : undefined;
    if (!items || items.some((i) => i.kind !== 'string')) refuse('build.zig.zon: .paths must be a list of strings');
    if (items.length > 10_000) refuse('build.zig.zon: .paths has more than 10000 entries');
    paths = items.map((i) => validateIncludePath((i as { value: string }).value));
  }

  let id: number | undefined;
  const fingerprint = fields.get('fingerprint');
  if (fingerprint !== undefined) {
    if (fingerprint.kind !== 'number' || typeof fingerprint.value !== 'bigint' || fingerprint.value < 0n || fingerprint.value > 0xffffffffffffffffn) {
      refuse('build.zig.zon: .fingerprint must be a 64-bit unsigned integer');
    }
    const checksum = Number(fingerprint.value >> 32n);
    // zig 0.14 refuses a fingerprint whose upper half is not the CRC-32 of the name.
    if (checksum !== crc32(name)) refuse(`build.zig.zon: .fingerprint does not belong to the name ${name} (zig refuses it)`);
    id = Number(fingerprint.value & 0xffffffffn);
  }
  if (nameValue.kind === 'enum' && id === undefined) refuse('build.zig.zon: .fingerprint is required with an enum literal .name (zig 0.14)');

  const minimum = str(fields.get('minimum_zig_version'));
  const dependencies: Record<string, { url?: string; hash?: string; path?: string }> = Object.create(null);
  const deps = fields.get('dependencies');
  if (deps !== undefined) {
    if (deps.kind !== 'struct') refuse('build.zig.zon: .dependencies must be a struct');
    for (const [dep, value] of deps.fields) {
      if (value.kind !== 'struct') refuse(`build.zig.zon: dependency ${JSON.stringify(dep.slice(0, 64))} must be a struct`);
      const url = str(value.fields.get('url'));
      const hash = str(value.fields.get('hash'));
      const path = str(value.fields.get('path'));
      dependencies[dep] = { ...(url !== undefined ? { url } : {}), ...(hash !== undefined ? { hash } : {}), ...(path !== undefined ? { path } : {}) };
    }
  }
  return { name, version, ...(paths ? { paths } : {}), ...(id !== undefined ? { id } : {}), ...(minimum ? { minimumZigVersion: minimum } : {}), dependencies };
}

/**
 * Whether zig 0.12 and later keep `path` (relative to the package root) in the package:
 * everything when `.paths` is absent or holds `""`, else a listed path or a file under a
 * listed directory.
 */
export function includedByPaths(path: string, paths: readonly string[] | undefined): boolean {
  if (paths === undefined || paths.length === 0 || paths.includes('')) return true;
  if (paths.includes(path)) return true;
  for (let at = path.lastIndexOf('/'); at > 0; at = path.lastIndexOf('/', at - 1)) {
    if (paths.includes(path.slice(0, at))) return true;
  }
  return false;
}
