import { Readable } from 'node:stream';
import { UpstreamError, type MergeSources, type RepositoryServices } from '@registry-core/api';
import { nameKey, tryParseChannelFilename } from './names.js';
import { upstreamMembers, upstreamRecord, type UpstreamRepodata } from './proxy.js';
import type { PackageRecord, Repodata } from './repodata.js';

/**
 * One member's part of a subdir's repodata as served: a hosted repository's (in memory, as
 * stored) or an upstream's (the cached document, read member by member each time it is served).
 */
export interface RepodataSource {
  readonly repodata?: Repodata;
  readonly upstream?: UpstreamRepodata;
  readonly hosted: boolean;
  /** The package names an upstream document lists ({@link upstreamNames}), when known. */
  readonly held?: ReadonlySet<string>;
  /** The package names whose records are served from this source; all when absent. */
  readonly names?: ReadonlySet<string>;
  /** Files an earlier source gives already (of names served from several sources). */
  readonly skip?: ReadonlySet<string>;
}

const SECTIONS = ['packages', 'packages.conda'] as const;
type Section = (typeof SECTIONS)[number];

/** The name key ({@link nameKey}) of the package a file name is of, `undefined` when it is not a conda file name. */
const nameOf = (filename: string): string | undefined => {
  const name = tryParseChannelFilename(filename)?.name;
  return name === undefined ? undefined : nameKey(name);
};

/** The records of one section of a source, filtered by its `names` and `skip`. */
async function* sectionRecords(source: RepodataSource, section: Section): AsyncGenerator<[string, PackageRecord]> {
  const keep = (filename: string, name: string) => (!source.names || source.names.has(name)) && !source.skip?.has(filename);
  if (source.repodata) {
    for (const [filename, record] of Object.entries(source.repodata[section] ?? {})) if (keep(filename, nameKey(record.name))) yield [filename, record];
    return;
  }
  for await (const entry of upstreamMembers(source.upstream!)) {
    if (entry.kind !== 'record' || entry.section !== section) continue;
    const name = nameOf(entry.filename);
    if (name === undefined || !keep(entry.filename, name)) continue;
    const record = upstreamRecord(entry.filename, JSON.parse(entry.raw.toString('utf8')), source.upstream!.subdir);
    if (record) yield [entry.filename, record];
  }
}

async function* removedOf(source: RepodataSource): AsyncGenerator<string> {
  if (source.repodata) {
    yield* source.repodata.removed ?? [];
    return;
  }
  for await (const entry of upstreamMembers(source.upstream!)) if (entry.kind === 'removed') yield entry.filename;
}

/** Text is handed on in pieces of about this many characters. */
const PIECE = 64 * 1024;

/**
 * The repodata (v1: files next to it) of `sources` in order, as a stream of JSON: each
 * upstream document is read once per section, one record at a time. Memory: one record,
 * one chunk of the upstream document and one piece of output, whatever the sizes.
 */
export function streamRepodata(sources: readonly RepodataSource[], subdir: string): Readable {
  const only = sources.length === 1 ? sources[0]! : undefined;
  if (only?.upstream && !only.names && !only.skip) return Readable.from(onePass(only.upstream), { objectMode: false });
  async function* text(): AsyncGenerator<string> {
    let out = `{"info":${JSON.stringify({ subdir })}`;
    for (const section of SECTIONS) {
      out += `,${JSON.stringify(section)}:{`;
      let first = true;
      for (const source of sources) {
        for await (const [filename, record] of sectionRecords(source, section)) {
          out += `${first ? '' : ','}${JSON.stringify(filename)}:${JSON.stringify(record)}`;
          first = false;
          if (out.length >= PIECE) {
            yield out;
            out = '';
          }
        }
      }
      out += '}';
    }
    out += ',"removed":[';
    let first = true;
    for (const source of sources) {
      for await (const filename of removedOf(source)) {
        out += `${first ? '' : ','}${JSON.stringify(filename)}`;
        first = false;
        if (out.length >= PIECE) {
          yield out;
          out = '';
        }
      }
    }
    yield `${out}],"repodata_version":1}`;
  }
  return Readable.from(text(), { objectMode: false });
}

/**
 * A proxy's repodata: one upstream document, served in one pass in its own order (each of
 * `packages`, `packages.conda` and `removed` where it first appears; a section repeated is
 * left out), then the sections it lacks, empty.
 */
async function* onePass(upstream: UpstreamRepodata): AsyncGenerator<string> {
  let out = `{"info":${JSON.stringify({ subdir: upstream.subdir })}`;
  let open: string | undefined;
  let first = true;
  const done = new Set<string>();
  const enter = (section: string): boolean => {
    if (open === section) return true;
    if (done.has(section)) return false;
    if (open !== undefined) out += open === 'removed' ? ']' : '}';
    if (open !== undefined) done.add(open);
    open = section;
    first = true;
    out += `,${JSON.stringify(section)}:${section === 'removed' ? '[' : '{'}`;
    return true;
  };
  for await (const entry of upstreamMembers(upstream)) {
    if (entry.kind === 'info') continue;
    if (!enter(entry.kind === 'removed' ? 'removed' : entry.section)) continue;
    if (entry.kind === 'removed') out += `${first ? '' : ','}${JSON.stringify(entry.filename)}`;
    else {
      const record = upstreamRecord(entry.filename, JSON.parse(entry.raw.toString('utf8')), upstream.subdir);
      if (!record) continue;
      out += `${first ? '' : ','}${JSON.stringify(entry.filename)}:${JSON.stringify(record)}`;
    }
    first = false;
    if (out.length >= PIECE) {
      yield out;
      out = '';
    }
  }
  if (open !== undefined) {
    out += open === 'removed' ? ']' : '}';
    done.add(open);
  }
  for (const section of [...SECTIONS, 'removed']) if (!done.has(section)) out += `,${JSON.stringify(section)}:${section === 'removed' ? '[]' : '{}'}`;
  yield `${out},"repodata_version":1}`;
}

/**
 * The package names an upstream document lists, read once per revision, which checks the
 * whole document on the way (its structure and every record's JSON), so that an answer
 * streamed from it never breaks off halfway: a document that is not valid is a 502 before
 * anything is sent. Kept while memory allows (about a hundred bytes a name).
 */
export async function upstreamNames(repo: RepositoryServices, loaded: UpstreamRepodata): Promise<ReadonlySet<string>> {
  const key = `upstream-names/${loaded.subdir}/${loaded.revision}`;
  const cached = repo.derived.get<ReadonlySet<string>>(key);
  if (cached) return cached;
  const names = new Set<string>();
  let bytes = 0;
  for await (const entry of upstreamMembers(loaded)) {
    if (entry.kind !== 'record') continue;
    try {
      JSON.parse(entry.raw.toString('utf8'));
    } catch {
      throw new UpstreamError(`the upstream's ${loaded.subdir}/repodata.json is not valid JSON (the record of ${JSON.stringify(entry.filename.slice(0, 200))})`);
    }
    const name = nameOf(entry.filename);
    if (name !== undefined && !names.has(name)) {
      names.add(name);
      bytes += 2 * name.length + 64;
    }
  }
  repo.derived.set(key, names, bytes);
  return names;
}

/** The file names `source` lists of `names`. */
async function filesOf(source: RepodataSource, names: ReadonlySet<string>): Promise<Set<string>> {
  const files = new Set<string>();
  for (const section of SECTIONS) {
    if (source.repodata) {
      for (const [filename, record] of Object.entries(source.repodata[section] ?? {})) if (names.has(nameKey(record.name))) files.add(filename);
      continue;
    }
    for await (const entry of upstreamMembers(source.upstream!)) {
      if (entry.kind !== 'record' || entry.section !== section) continue;
      const name = nameOf(entry.filename);
      if (name !== undefined && names.has(name)) files.add(entry.filename);
    }
  }
  return files;
}

/**
 * Members' sources of one subdir, in member order, into the sources of the group's answer:
 * each name's records come only from the members the group serves that name from (`sources`,
 * the kernel's rule: a name a hosted member owns is served from it alone, never mixed with an
 * upstream's builds; routing claims hold); a file listed by several of those, from the first.
 * Without `sources`: the first hosted document holding a name, else every proxy's. Memory:
 * the members' package names, and the file names of names served from more than one member;
 * never an upstream's records.
 */
export async function mergeSources(repo: RepositoryServices, members: readonly RepodataSource[], sources?: MergeSources): Promise<RepodataSource[]> {
  const held: ReadonlySet<string>[] = await Promise.all(
    members.map(async (member) => {
      if (member.upstream) return member.held ?? upstreamNames(repo, member.upstream);
      const names = new Set<string>();
      for (const section of SECTIONS) for (const record of Object.values(member.repodata?.[section] ?? {})) names.add(nameKey(record.name));
      return names;
    }),
  );
  const holders = new Map<string, number[]>();
  held.forEach((names, i) => {
    for (const name of names) {
      const list = holders.get(name);
      if (!list) holders.set(name, [i]);
      else list.push(i);
    }
  });
  const served = members.map(() => new Set<string>());
  const shared = new Set<string>();
  for (const [name, list] of holders) {
    let from: readonly number[];
    if (sources) from = sources.servedFrom(name, list);
    else {
      const owner = list.find((i) => members[i]!.hosted);
      from = owner !== undefined ? [owner] : list.filter((i) => !members[i]!.hosted);
    }
    for (const i of from) served[i]!.add(name);
    if (from.length > 1) shared.add(name);
  }
  const given = new Set<string>();
  const out: RepodataSource[] = [];
  for (const [i, member] of members.entries()) {
    const names = served[i]!;
    out.push({ ...member, names, ...(given.size > 0 ? { skip: new Set(given) } : {}) });
    const mine = new Set([...names].filter((name) => shared.has(name)));
    if (mine.size > 0 && i < members.length - 1) for (const file of await filesOf(member, mine)) given.add(file);
  }
  return out;
}

/** Sources without an upstream's document, into one repodata in memory (a hosted repository's, a group of hosted ones). */
export async function collectRepodata(sources: readonly RepodataSource[], subdir: string): Promise<Repodata> {
  if (sources.length === 1 && sources[0]!.repodata && !sources[0]!.names && !sources[0]!.skip) return sources[0]!.repodata;
  const sections: Record<Section, Record<string, PackageRecord>> = { packages: {}, 'packages.conda': {} };
  const removed = new Set<string>();
  for (const section of SECTIONS) for (const source of sources) for await (const [filename, record] of sectionRecords(source, section)) sections[section][filename] ??= record;
  for (const source of sources) for await (const filename of removedOf(source)) removed.add(filename);
  return { info: { subdir }, packages: sections.packages, 'packages.conda': sections['packages.conda'], removed: [...removed].sort(), repodata_version: 1 };
}
