import { BadRequestError } from '@registry-core/api';
import { parseSince } from '../auth/audit-log.js';
import { dayOf } from './download-store.js';
import { windowStart, type DownloadQueries, type StatsTotals, type TopPackage } from './download-queries.js';

/** What `registry-core stats --json` prints and `GET /-/api/stats` answers. */
export interface StatsReport {
  /** First day of the window (`YYYY-MM-DD`, UTC); the window ends today. */
  readonly since: string;
  readonly format?: string;
  /** The repositories counted (a group stands for itself and its members); absent: all. */
  readonly repositories?: readonly string[];
  readonly top: readonly TopPackage[];
  readonly totals: {
    readonly all: StatsTotals;
    readonly formats: Readonly<Record<string, StatsTotals>>;
    readonly repositories: Readonly<Record<string, StatsTotals & { readonly format?: string }>>;
  };
}

/** A repository as the reports need it: its format, and its members when a group. */
export interface StatsRepository {
  readonly format: string;
  readonly type: string;
  readonly members?: readonly string[];
}

/**
 * `since` as the first day of a window: a day (`2026-03-01`), a date, or a duration back from
 * now (`30d`, `12h`); absent: the last 30 days.
 */
export function sinceDay(value: string | undefined, now = Date.now()): string {
  if (value === undefined || value === '') return windowStart(30, now);
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  const ms = parseSince(value, now);
  if (ms === undefined) throw new BadRequestError('since: a day (2026-03-01), a date, or a duration such as 30d');
  return dayOf(ms);
}

/** `name` and, for a group, its members (theirs too), in order: where a group's downloads are counted. */
export function withMembers(name: string, lookup: (name: string) => StatsRepository | undefined): string[] {
  const out: string[] = [];
  const visit = (n: string) => {
    if (out.includes(n)) return;
    out.push(n);
    for (const member of lookup(n)?.members ?? []) visit(member);
  };
  visit(name);
  return out;
}

const zero = (): StatsTotals => ({ artifacts: 0, bytesStored: 0, downloads: 0, bytesServed: 0, upstreamSaved: 0 });

function add(into: StatsTotals, more: StatsTotals): StatsTotals {
  return {
    artifacts: into.artifacts + more.artifacts,
    bytesStored: into.bytesStored + more.bytesStored,
    downloads: into.downloads + more.downloads,
    bytesServed: into.bytesServed + more.bytesServed,
    upstreamSaved: into.upstreamSaved + more.upstreamSaved,
  };
}

/**
 * The report over a window: the top packages, totals per repository, per format and for
 * everything counted. Stored bytes of a format or of everything count each distinct
 * content once per repository (the same file in two repositories of one blob store is
 * stored once: `all.bytesStored` counts it once).
 */
export async function statsReport(
  queries: DownloadQueries,
  lookup: (name: string) => StatsRepository | undefined,
  options: { readonly since?: string; readonly format?: string; readonly repositories?: readonly string[]; readonly top?: number },
): Promise<StatsReport> {
  const since = options.since ?? sinceDay(undefined);
  const filter = { since, ...(options.format !== undefined ? { format: options.format } : {}), ...(options.repositories !== undefined ? { repositories: options.repositories } : {}) };
  const [top, byRepository] = await Promise.all([queries.top(filter, options.top ?? 10), queries.totalsByRepository(filter)]);
  const repositories: Record<string, StatsTotals & { format?: string }> = {};
  const formats: Record<string, StatsTotals> = {};
  let all = zero();
  for (const [name, totals] of [...byRepository].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (name === '*') continue;
    const format = lookup(name)?.format ?? totals.format;
    if (options.format !== undefined && format !== options.format) continue;
    repositories[name] = { ...totals, ...(format !== undefined ? { format } : {}) };
    const key = format ?? '';
    formats[key] = add(formats[key] ?? zero(), totals);
    all = add(all, totals);
  }
  // Each distinct content once overall, when nothing narrows what is counted.
  const overall = byRepository.get('*');
  if (overall && options.format === undefined) all = { ...all, bytesStored: overall.bytesStored };
  return {
    since,
    ...(options.format !== undefined ? { format: options.format } : {}),
    ...(options.repositories !== undefined ? { repositories: options.repositories } : {}),
    top,
    totals: { all, formats, repositories },
  };
}
