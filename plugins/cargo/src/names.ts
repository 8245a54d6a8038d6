import { BadRequestError, NotFoundError } from '@registry-core/api';

/** crates.io's longest crate name. */
export const MAX_NAME_LENGTH = 64;
/** Longest version accepted (semver allows more; this bounds storage keys). */
export const MAX_VERSION_LENGTH = 128;

/**
 * Names crates.io refuses: Windows device names (a crate folder named so cannot be created
 * there) and the standard library's own crates.
 */
const RESERVED = new Set([
  'nul', 'con', 'prn', 'aux',
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((n) => [`com${n}`, `lpt${n}`]),
  'std', 'core', 'alloc', 'proc-macro', 'test',
]);

/**
 * The identity of a crate name as crates.io compares names: case-insensitive, `-` and `_`
 * alike (`Foo_Bar` and `foo-bar` are one crate). Ownership, the component index and group
 * routing use it.
 */
export function canonicalName(name: string): string {
  return name.toLowerCase().replace(/_/g, '-');
}

/** A crate name as crates.io accepts it: ASCII letters, digits, `-`, `_`, a letter first, at most 64 characters, not reserved. */
export function validateCrateName(name: unknown): string {
  if (typeof name !== 'string' || name === '') throw new BadRequestError('the crate name is empty', 'INVALID_NAME');
  if (name.length > MAX_NAME_LENGTH) throw new BadRequestError(`the crate name is longer than ${MAX_NAME_LENGTH} characters`, 'INVALID_NAME');
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(name)) {
    throw new BadRequestError(`invalid crate name ${JSON.stringify(name.slice(0, 80))}: use ASCII letters, digits, "-" and "_", starting with a letter`, 'INVALID_NAME');
  }
  if (RESERVED.has(canonicalName(name))) throw new BadRequestError(`the crate name ${JSON.stringify(name)} is reserved`, 'INVALID_NAME');
  return name;
}

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

/** A SemVer 2.0 version, as cargo requires. */
export function validateVersion(version: unknown): string {
  if (typeof version !== 'string' || version.length > MAX_VERSION_LENGTH || !SEMVER.test(version)) {
    throw new BadRequestError(`invalid version ${JSON.stringify(String(version).slice(0, 80))}: crate versions are SemVer (1.2.3, 1.2.3-beta.1)`, 'INVALID_VERSION');
  }
  return version;
}

/** Whether a string is a SemVer 2.0 version (an upstream's index line). */
export function isVersion(version: unknown): version is string {
  return typeof version === 'string' && version.length <= MAX_VERSION_LENGTH && SEMVER.test(version);
}

/** A version without its build metadata: crates.io takes `1.0.0+a` and `1.0.0+b` for the same version. */
export function versionIdentity(version: string): string {
  const plus = version.indexOf('+');
  return plus < 0 ? version : version.slice(0, plus);
}

/** The index file's path of a crate (from its lower-cased name): `1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd…`. */
export function indexPath(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length === 1) return `1/${lower}`;
  if (lower.length === 2) return `2/${lower}`;
  if (lower.length === 3) return `3/${lower[0]}/${lower}`;
  return `${lower.slice(0, 2)}/${lower.slice(2, 4)}/${lower}`;
}

/**
 * The crate an index request names, from the path's segments: the prefix folders must be
 * the ones its name gives (`se/rd/serde`), else there is no such file.
 */
export function crateOfIndexPath(segments: readonly string[]): string {
  const name = segments.at(-1) ?? '';
  validateIndexName(name);
  if (indexPath(name) !== segments.join('/').toLowerCase()) throw new NotFoundError(`no index file at ${segments.join('/')}`);
  return name.toLowerCase();
}

/** A name in an index path: as strict as a crate name, but a 404 rather than a 400 for what cannot exist. */
function validateIndexName(name: string): void {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || !/^[A-Za-z0-9_-]+$/.test(name)) throw new BadRequestError(`invalid crate name in the index path: ${JSON.stringify(name.slice(0, 80))}`, 'INVALID_NAME');
}

/** The name cargo knows a repository by (`[registries.<name>]`, `--registry <name>`). */
export const registryName = (repo: { readonly name: string }): string => repo.name.replace(/[^A-Za-z0-9_-]/g, '-');
