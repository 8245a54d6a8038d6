import { builtinModules } from 'node:module';
import { BadRequestError } from '@registry-core/api';
import semver from 'semver';

const MAX_LENGTH = 214;
const BLOCKED = new Set(['node_modules', 'favicon.ico']);
/** Node's core modules (`http`, `fs`, ...): npm refuses them as names of new packages. */
const CORE_MODULES = new Set(builtinModules.filter((m) => !m.includes('/')).map((m) => m.replace(/^node:/, '')));

/** A package name split into scope and base name. */
export interface PackageName {
  /** Full name, `@scope/base` or `base`. */
  readonly name: string;
  readonly scope?: string;
  readonly base: string;
}

function urlSafe(part: string): boolean {
  return part.length > 0 && encodeURIComponent(part) === part;
}

/**
 * Validate a package name with npm's rules (those of validate-npm-package-name) plus ours:
 * at most 214 characters, URL-safe parts, no leading `.` or `_` in the name or the scope,
 * no `..`, no spaces, at most one `/` and only after an `@scope`.
 *
 * Reads accept the names npm calls "valid for old packages": legacy mixed-case names such
 * as `JSONStream` must stay installable through a proxy. Publishes (`forPublish`) need a
 * name "valid for new packages": lowercase, no `~'!()*` in the base name, not a Node core
 * module name. Throws a 400 naming the problem.
 */
export function parseName(name: string, options: { forPublish?: boolean } = {}): PackageName {
  const fail = (why: string): never => {
    throw new BadRequestError(`invalid package name "${String(name).slice(0, 240)}": ${why}`, 'INVALID_NAME');
  };
  if (typeof name !== 'string' || name.length === 0) fail('empty');
  if (name.length > MAX_LENGTH) fail(`longer than ${MAX_LENGTH} characters`);
  if (/\s/.test(name)) fail('contains spaces');
  if (name.includes('..')) fail('contains ".."');
  let scope: string | undefined;
  let base = name;
  if (name.startsWith('@')) {
    const slash = name.indexOf('/');
    if (slash < 0) fail('a scope needs a name: @scope/name');
    scope = name.slice(1, slash);
    base = name.slice(slash + 1);
    if (!urlSafe(scope)) fail('the scope is not URL-safe');
    if (scope.startsWith('.') || scope.startsWith('_')) fail('the scope starts with . or _');
  }
  if (!urlSafe(base)) fail('not URL-safe');
  if (base.startsWith('.') || base.startsWith('_')) fail('starts with . or _');
  if (BLOCKED.has(base.toLowerCase())) fail('is a blocked name');
  if (options.forPublish) {
    if (name.toLowerCase() !== name) fail('new packages must be lowercase');
    if (/[~'!()*]/.test(base)) fail("contains one of ~'!()*");
    if (CORE_MODULES.has(name)) fail('is the name of a Node.js core module');
  }
  return { name, scope, base };
}

/** The tarball file name npm uses for a version: `<base>-<version>.tgz`. */
export function tarballFile(name: PackageName, version: string): string {
  return `${name.base}-${version}.tgz`;
}

/**
 * The version a tarball file name stands for, when it has npm's shape
 * `<base>-<semver>.tgz` (base = the name without its scope); else undefined.
 */
export function tarballVersion(name: PackageName, file: string): string | undefined {
  const prefix = `${name.base}-`;
  if (!file.startsWith(prefix) || !file.endsWith('.tgz')) return undefined;
  const version = file.slice(prefix.length, -'.tgz'.length);
  return semver.valid(version) === version ? version : undefined;
}

/** Asset path of a tarball: `<name>/-/<file>`, the same shape as the URL. */
export function tarballPath(name: PackageName, file: string): string {
  return `${name.name}/-/${file}`;
}

/** The name as it appears in a URL path: the scope's slash encoded. */
export function encodedName(name: PackageName): string {
  return name.scope ? `@${name.scope}%2f${name.base}` : name.base;
}
