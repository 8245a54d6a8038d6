import { BadRequestError } from '@registry-core/api';
import type { PackageFilename } from './names.js';

/** One package's entry in `repodata.json` (what conda, mamba and rattler read). */
export type PackageRecord = Readonly<Record<string, unknown>> & {
  readonly name: string;
  readonly version: string;
  readonly build: string;
  readonly build_number: number;
  readonly depends: readonly string[];
  readonly subdir: string;
  readonly md5: string;
  readonly sha256: string;
  readonly size: number;
};

/** A subdir's `repodata.json` as served (repodata_version 1: package URLs are next to it). */
export interface Repodata {
  readonly info: { readonly subdir: string };
  readonly packages: Readonly<Record<string, PackageRecord>>;
  readonly 'packages.conda': Readonly<Record<string, PackageRecord>>;
  readonly removed: readonly string[];
  readonly repodata_version: 1;
}

export function emptyRepodata(subdir: string): Repodata {
  return { info: { subdir }, packages: {}, 'packages.conda': {}, removed: [], repodata_version: 1 };
}

/** The key of `repodata.json` a file is listed under. */
export const sectionOf = (filename: string): 'packages' | 'packages.conda' => (filename.endsWith('.conda') ? 'packages.conda' : 'packages');

const STRING_FIELDS = ['license', 'license_family', 'platform', 'arch', 'track_features', 'python_site_packages_path'] as const;
const LIST_FIELDS = ['depends', 'constrains', 'features'] as const;

function stringList(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length > 1024)) throw new BadRequestError(`Invalid conda package: info/index.json "${field}" is not a list of strings.`);
  return value as string[];
}

/**
 * The repodata record of an uploaded package: the fields of its `info/index.json` that a
 * solver reads (typed and checked; nothing else is copied), which must agree with the file
 * name, plus the digests computed while it was received.
 */
export function recordFromIndex(index: Readonly<Record<string, unknown>>, file: PackageFilename, digests: { md5: string; sha256: string; size: number }): PackageRecord {
  const disagree = (field: string, expected: string) => new BadRequestError(`Invalid conda package: info/index.json says ${field} ${JSON.stringify(index[field])}, the file name ${file.filename} says ${JSON.stringify(expected)}.`);
  if (index['name'] !== file.name) throw disagree('name', file.name);
  if (index['version'] !== file.version) throw disagree('version', file.version);
  if (index['build'] !== file.build) throw disagree('build', file.build);
  const subdir = index['subdir'];
  if (typeof subdir !== 'string') throw new BadRequestError('Invalid conda package: info/index.json has no "subdir".');
  const buildNumber = index['build_number'] ?? 0;
  if (typeof buildNumber !== 'number' || !Number.isSafeInteger(buildNumber) || buildNumber < 0) throw new BadRequestError('Invalid conda package: info/index.json "build_number" is not a non-negative integer.');
  const record: Record<string, unknown> = { name: file.name, version: file.version, build: file.build, build_number: buildNumber };
  for (const field of LIST_FIELDS) {
    const list = stringList(index[field], field);
    if (field === 'depends' || list.length > 0) record[field] = list;
  }
  for (const field of STRING_FIELDS) {
    const value = index[field];
    if (typeof value === 'string' && value.length <= 1024) record[field] = value;
  }
  const noarch = index['noarch'];
  if (noarch === 'python' || noarch === 'generic') record['noarch'] = noarch;
  else if (noarch !== undefined && noarch !== null && noarch !== false) throw new BadRequestError(`Invalid conda package: info/index.json "noarch" is ${JSON.stringify(noarch)} (python or generic).`);
  if ((noarch === 'python' || noarch === 'generic') !== (subdir === 'noarch')) throw new BadRequestError(`Invalid conda package: a package of subdir ${subdir} ${subdir === 'noarch' ? 'must' : 'must not'} be noarch.`);
  const timestamp = index['timestamp'];
  if (typeof timestamp === 'number' && Number.isSafeInteger(timestamp) && timestamp > 0) record['timestamp'] = timestamp;
  record['subdir'] = subdir;
  record['md5'] = digests.md5;
  record['sha256'] = digests.sha256;
  record['size'] = digests.size;
  return record as PackageRecord;
}
