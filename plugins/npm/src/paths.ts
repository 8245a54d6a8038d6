import { BadRequestError, NotFoundError } from '@registry-core/api';
import { parseName, type PackageName } from './names.js';

/** What an npm registry path under a repository addresses. */
export type NpmPath =
  | { readonly kind: 'packument'; readonly name: PackageName }
  | { readonly kind: 'version'; readonly name: PackageName; readonly spec: string }
  | { readonly kind: 'tarball'; readonly name: PackageName; readonly file: string }
  | { readonly kind: 'revision'; readonly name: PackageName; readonly rev: string }
  | { readonly kind: 'tarball-revision'; readonly name: PackageName; readonly file: string; readonly rev: string };

/**
 * Parse the decoded path segments of a package URL. The scope separator may arrive
 * encoded (`@scope%2fname`, one decoded segment `@scope/name`) or plain (two segments);
 * both are the same name. Names are validated; anything else is a 404.
 */
export function parseNpmPath(segments: readonly string[], rawPath?: string): NpmPath {
  if (rawPath !== undefined) checkEncodedSlashes(rawPath);
  const parts = segments.flatMap((s) => s.split('/'));
  if (parts.some((p) => p === '')) throw new NotFoundError('not found');
  let nameLength = 1;
  if (parts[0]?.startsWith('@')) nameLength = 2;
  if (parts.length < nameLength) throw new NotFoundError('not found');
  const name = parseName(parts.slice(0, nameLength).join('/'));
  const rest = parts.slice(nameLength);
  if (rest.length === 0) return { kind: 'packument', name };
  if (rest.length === 1) {
    const spec = rest[0]!;
    if (spec.length > MAX_SPEC_LENGTH) throw new BadRequestError(`version or tag "${spec.slice(0, 64)}..." is too long`, 'INVALID_VERSION');
    return { kind: 'version', name, spec };
  }
  if (rest.length === 2 && rest[0] === '-rev') return { kind: 'revision', name, rev: rest[1]! };
  if (rest.length === 2 && rest[0] === '-') return { kind: 'tarball', name, file: checkFile(rest[1]!) };
  if (rest.length === 4 && rest[0] === '-' && rest[2] === '-rev') return { kind: 'tarball-revision', name, file: checkFile(rest[1]!), rev: rest[3]! };
  // Some clients put the scope in the tarball file name: @scope/name/-/@scope/name-1.0.0.tgz
  if (rest.length === 3 && rest[0] === '-' && rest[1] === `@${name.scope}`) return { kind: 'tarball', name, file: checkFile(rest[2]!) };
  throw new NotFoundError('not found');
}

/** Longest version, tag or range accepted in `/<name>/<spec>` (semver's own limit). */
const MAX_SPEC_LENGTH = 256;

/** True for a file name that can be a tarball in a URL or an asset path: `*.tgz`, no path tricks. */
export function isTarballFileName(file: string): boolean {
  return file.length <= 300 && file.endsWith('.tgz') && !file.startsWith('.') && !file.includes('..') && /^[A-Za-z0-9._+~-]+$/.test(file);
}

function checkFile(file: string): string {
  if (!isTarballFileName(file)) throw new NotFoundError(`not a tarball name: ${file.slice(0, 200)}`);
  return file;
}

/**
 * The only slash a client may encode is the scope separator of the first segment
 * (`/@scope%2fname`); any other `%2f` is a path trick.
 */
export function checkEncodedSlashes(rawPath: string): void {
  const lower = rawPath.toLowerCase();
  const count = lower.split('%2f').length - 1;
  if (count === 0) return;
  const first = lower.split('/')[1] ?? '';
  if (count > 1 || !/^(@|%40)[^/]*%2f/.test(first)) {
    throw new BadRequestError(`invalid package path ${rawPath.slice(0, 200)}: an encoded "/" is only allowed between a scope and a name`, 'INVALID_NAME');
  }
}
