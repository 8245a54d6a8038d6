import { BadRequestError } from '@registry-core/api';

/** A conda package file's parts, from its name (`<name>-<version>-<build>.conda|.tar.bz2`). */
export interface PackageFilename {
  readonly filename: string;
  readonly name: string;
  readonly version: string;
  readonly build: string;
  readonly extension: '.conda' | '.tar.bz2';
}

// conda-build's rules: names lowercase; no "-" in a version or a build string (it separates them in the file name).
const NAME = /^[a-z0-9_][a-z0-9_.-]{0,127}$/;
// Channels built before conda-build refused capitals still list names with them (anaconda.org
// has `TestUpperCase`), and conda installs them by the name as written: read from channels
// (proxied, merged, fetched), never uploaded.
const CHANNEL_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const VERSION = /^[0-9A-Za-z_][0-9A-Za-z_.+!]{0,63}$/;
const BUILD = /^[0-9A-Za-z_][0-9A-Za-z_.+]{0,127}$/;
/** `noarch`, or `<platform>-<arch>` (linux-64, osx-arm64, win-64, emscripten-wasm32...). */
const SUBDIR = /^(?:noarch|[a-z][a-z0-9]{0,15}-[a-z0-9_]{1,16})$/;

function refuse(message: string): never {
  throw new BadRequestError(message);
}

export function isValidName(name: string): boolean {
  return NAME.test(name) && !name.endsWith('.') && !name.includes('..');
}

/** A name a channel may list: conda-build's, or with capitals (see CHANNEL_NAME). */
export function isChannelName(name: string): boolean {
  return CHANNEL_NAME.test(name) && !name.endsWith('.') && !name.includes('..');
}

/**
 * The key of a name for the group's per-name rule: case folded, so that a hosted `foo` also
 * hides an upstream's `Foo` (clients that match names without case, as mamba 2 and CEP 29
 * do, would otherwise take the upstream's).
 */
export const nameKey = (name: string): string => name.toLowerCase();

export function validateName(name: string): string {
  if (!isValidName(name)) refuse(`${JSON.stringify(name)} is not a valid conda package name (lowercase letters, digits, "_", "." and "-")`);
  return name;
}

export function validateVersion(version: string): string {
  if (!VERSION.test(version) || version.includes('..')) refuse(`${JSON.stringify(version)} is not a valid conda version (letters, digits, "_", ".", "+", "!"; no "-")`);
  return version;
}

export function validateBuild(build: string): string {
  if (!BUILD.test(build) || build.includes('..')) refuse(`${JSON.stringify(build)} is not a valid conda build string (letters, digits, "_", ".", "+"; no "-")`);
  return build;
}

export function isValidSubdir(subdir: string): boolean {
  return SUBDIR.test(subdir);
}

export function validateSubdir(subdir: string): string {
  if (!isValidSubdir(subdir)) refuse(`${JSON.stringify(subdir)} is not a conda subdir (noarch, linux-64, osx-arm64, win-64...)`);
  return subdir;
}

/**
 * The parts of a package file name, each checked against conda's rules; refused with a 400
 * otherwise. `channel`: a name with capitals is taken too (a file an upstream channel lists).
 */
export function parsePackageFilename(filename: string, channel = false): PackageFilename {
  const extension = filename.endsWith('.conda') ? '.conda' : filename.endsWith('.tar.bz2') ? '.tar.bz2' : undefined;
  if (extension === undefined) refuse(`${JSON.stringify(filename)} is not a conda package file (.conda or .tar.bz2)`);
  const stem = filename.slice(0, -extension.length);
  const parts = stem.split('-');
  if (parts.length < 3) refuse(`${JSON.stringify(filename)} is not named <name>-<version>-<build>${extension}`);
  const build = validateBuild(parts.pop()!);
  const version = validateVersion(parts.pop()!);
  const name = channel ? parts.join('-') : validateName(parts.join('-'));
  if (channel && !isChannelName(name)) refuse(`${JSON.stringify(name)} is not a conda package name`);
  return { filename, name, version, build, extension };
}

/** The package file name's parts, or `undefined` when it is not one (for lookups that answer 404). */
export function tryParsePackageFilename(filename: string): PackageFilename | undefined {
  try {
    return parsePackageFilename(filename);
  } catch {
    return undefined;
  }
}

/** {@link tryParsePackageFilename} for a file a channel lists: names with capitals too. */
export function tryParseChannelFilename(filename: string): PackageFilename | undefined {
  try {
    return parsePackageFilename(filename, true);
  } catch {
    return undefined;
  }
}
