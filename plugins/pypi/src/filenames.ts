import { BadRequestError } from '@registry-core/api';
import { normalizeName } from './names.js';
import { parseVersion, sameVersion } from './versions.js';

/** A distribution filename taken apart (PEP 427/491 wheels, PEP 625 and legacy sdists). */
export interface DistributionFilename {
  readonly kind: 'wheel' | 'sdist';
  /** The name as written in the file (wheels: `_` for `-`). */
  readonly name: string;
  readonly normalizedName: string;
  readonly version: string;
  /** `.whl`, `.tar.gz`, `.zip`. */
  readonly extension: string;
  readonly tags?: { readonly build?: string; readonly python: string; readonly abi: string; readonly platform: string };
}

const SDIST_EXTENSIONS = ['.tar.gz', '.zip'] as const;
const TAG = /^[A-Za-z0-9_.]+$/;

function refuse(filename: string, why: string): never {
  throw new BadRequestError(`Invalid distribution filename ${JSON.stringify(filename.slice(0, 260))}: ${why}.`);
}

/** Take a distribution filename apart, or refuse it with a 400 naming the problem. */
export function parseDistributionFilename(filename: string): DistributionFilename {
  if (typeof filename !== 'string' || filename === '') refuse(String(filename), 'empty');
  if (filename.length > 255) refuse(filename, 'longer than 255 characters');
  if (/[/\\]/.test(filename) || filename.includes('..')) refuse(filename, 'a path, not a file name');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(filename)) refuse(filename, 'control characters');
  if (filename.startsWith('.') || filename.startsWith('-')) refuse(filename, 'starts with "." or "-"');
  if (filename.endsWith('.whl')) {
    const parts = filename.slice(0, -4).split('-');
    if (parts.length !== 5 && parts.length !== 6) refuse(filename, 'a wheel is {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl');
    const [name, version] = parts as [string, string];
    const [python, abi, platform] = parts.slice(-3) as [string, string, string];
    const build = parts.length === 6 ? parts[2]! : undefined;
    if (!/^[A-Za-z0-9_.]+$/.test(name) || !/[A-Za-z0-9]$/.test(name)) refuse(filename, 'the project name part is not valid');
    if (!parseVersion(version)) refuse(filename, `${JSON.stringify(version)} is not a PEP 440 version`);
    if (build !== undefined && !/^[0-9][A-Za-z0-9_.]*$/.test(build)) refuse(filename, 'the build tag must start with a digit');
    for (const tag of [python, abi, platform]) if (!TAG.test(tag)) refuse(filename, `bad compatibility tag ${JSON.stringify(tag)}`);
    return { kind: 'wheel', name, normalizedName: normalizeName(name), version, extension: '.whl', tags: { ...(build ? { build } : {}), python, abi, platform } };
  }
  const extension = SDIST_EXTENSIONS.find((ext) => filename.endsWith(ext));
  if (!extension) refuse(filename, 'not a wheel (.whl) or an sdist (.tar.gz, .zip)');
  const stem = filename.slice(0, -extension.length);
  // Legacy sdists keep "-" in the name (Foo-Bar-1.0): split at the last "-" followed by a version.
  for (let at = stem.lastIndexOf('-'); at > 0; at = stem.lastIndexOf('-', at - 1)) {
    const name = stem.slice(0, at);
    const version = stem.slice(at + 1);
    if (parseVersion(version) && /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/.test(name)) {
      return { kind: 'sdist', name, normalizedName: normalizeName(name), version, extension };
    }
  }
  refuse(filename, 'an sdist is {name}-{version}.tar.gz');
}

/** Whether `filename` is a distribution of `project` at `version` (both compared normalized). */
export function filenameMatches(filename: string, project: string, version: string): boolean {
  try {
    const parsed = parseDistributionFilename(filename);
    return parsed.normalizedName === normalizeName(project) && sameVersion(parsed.version, version);
  } catch {
    return false;
  }
}
