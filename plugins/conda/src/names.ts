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

/** The parts of a package file name, each checked against conda's rules; refused with a 400 otherwise. */
export function parsePackageFilename(filename: string): PackageFilename {
  const extension = filename.endsWith('.conda') ? '.conda' : filename.endsWith('.tar.bz2') ? '.tar.bz2' : undefined;
  if (extension === undefined) refuse(`${JSON.stringify(filename)} is not a conda package file (.conda or .tar.bz2)`);
  const stem = filename.slice(0, -extension.length);
  const parts = stem.split('-');
  if (parts.length < 3) refuse(`${JSON.stringify(filename)} is not named <name>-<version>-<build>${extension}`);
  const build = validateBuild(parts.pop()!);
  const version = validateVersion(parts.pop()!);
  const name = validateName(parts.join('-'));
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
