import { BadRequestError, type MergeSources } from '@registry-core/api';
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

/**
 * Members' repodata of one subdir, in member order, into one: files united by file name (the
 * first member's record wins), `removed` united. Each name's records come only from the
 * members the group serves that name from (`sources`, the kernel's rule: a name a hosted
 * member owns is served from it alone, never mixed with an upstream's or another hosted
 * member's builds; routing claims hold). Without `sources`: the first hosted document
 * holding a name, else every proxy's.
 */
export function mergeRepodata(documents: readonly { readonly repodata: Repodata; readonly hosted: boolean }[], subdir: string, sources?: MergeSources): Repodata {
  const holders = new Map<string, number[]>();
  documents.forEach(({ repodata }, i) => {
    for (const section of ['packages', 'packages.conda'] as const) {
      for (const record of Object.values(repodata[section] ?? {})) {
        const list = holders.get(record.name);
        if (!list) holders.set(record.name, [i]);
        else if (list[list.length - 1] !== i) list.push(i);
      }
    }
  });
  const servedFrom = new Map<string, ReadonlySet<number>>();
  for (const [name, held] of holders) {
    if (sources) servedFrom.set(name, new Set(sources.servedFrom(name, held)));
    else {
      const owner = held.find((i) => documents[i]!.hosted);
      servedFrom.set(name, new Set(owner !== undefined ? [owner] : held.filter((i) => !documents[i]!.hosted)));
    }
  }
  const packages: Record<string, PackageRecord> = {};
  const condaPackages: Record<string, PackageRecord> = {};
  const removed = new Set<string>();
  documents.forEach(({ repodata }, i) => {
    for (const [section, into] of [['packages', packages], ['packages.conda', condaPackages]] as const) {
      for (const [filename, record] of Object.entries(repodata[section] ?? {})) {
        if (filename in into || !servedFrom.get(record.name)?.has(i)) continue;
        into[filename] = record;
      }
    }
    for (const filename of repodata.removed ?? []) removed.add(filename);
  });
  return { info: { subdir }, packages, 'packages.conda': condaPackages, removed: [...removed].sort(), repodata_version: 1 };
}
