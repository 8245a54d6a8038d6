import type { DataSource } from 'typeorm';
import { dayOf, type DownloadCache } from './download-store.js';

/** Which rows a query reads: a window of UTC days and, optionally, repositories and a format. */
export interface StatsFilter {
  /** First day counted (`YYYY-MM-DD`); default: 30 days ago (today is the 30th). */
  readonly since?: string;
  readonly format?: string;
  /** Only these repositories (a caller's readable ones, or the one asked for); absent: all. */
  readonly repositories?: readonly string[];
}

/** One package in a top list. */
export interface TopPackage {
  readonly format: string;
  readonly name: string;
  readonly downloads: number;
  readonly bytes: number;
}

/** One package's counts over the window, per version, per day and per cache result. */
export interface PackageStats {
  readonly name: string;
  readonly since: string;
  readonly downloads: number;
  readonly bytes: number;
  /** Versions with a download in the window, most downloaded first. */
  readonly versions: readonly { readonly version: string; readonly downloads: number; readonly bytes: number }[];
  /** Every day of the window, oldest first, zeros included (the timeline). */
  readonly days: readonly { readonly day: string; readonly downloads: number; readonly bytes: number }[];
  readonly cache: Readonly<Record<DownloadCache, number>>;
}

/** Totals of one repository (or format, or everything). */
export interface StatsTotals {
  /** Stored content files (artifacts, not metadata documents). */
  readonly artifacts: number;
  /** Bytes of every stored file, each distinct content once (blobs are content-addressed). */
  readonly bytesStored: number;
  readonly downloads: number;
  readonly bytesServed: number;
  /** Downloads a proxy answered from its cache (HIT or STALE): upstream requests saved. */
  readonly upstreamSaved: number;
}

/** A stored file, as the recently-cached and never-downloaded lists show it. */
export interface StoredFile {
  readonly repository: string;
  readonly path: string;
  readonly size: number;
  readonly createdAt: string;
  readonly lastDownloadedAt?: string;
}

const DAY_MS = 86_400_000;

/** The default window's first day: `days` days up to today. */
export function windowStart(days = 30, now = Date.now()): string {
  return dayOf(now - (days - 1) * DAY_MS);
}

const num = (value: unknown): number => (value === null || value === undefined ? 0 : Number(value));

/**
 * Queries over the daily download rows and the asset table, for the stats API, the
 * `stats` command and `/-/stats`: read-only, on SQLite or PostgreSQL, with the server
 * running or not.
 */
export class DownloadQueries {
  private readonly postgres: boolean;

  constructor(
    private readonly dataSource: DataSource,
    private readonly now: () => number = Date.now,
  ) {
    this.postgres = dataSource.options.type === 'postgres';
  }

  /** A WHERE clause over `download_count` for `filter`, and its parameters. */
  private where(filter: StatsFilter, extra: { sql: string; value: unknown }[] = []): { sql: string; params: unknown[] } {
    const params: unknown[] = [];
    const p = (value: unknown) => {
      params.push(value);
      return this.postgres ? `$${params.length}` : '?';
    };
    const clauses = [`day >= ${p(filter.since ?? windowStart(30, this.now()))}`];
    if (filter.format !== undefined) clauses.push(`format = ${p(filter.format)}`);
    if (filter.repositories !== undefined) clauses.push(filter.repositories.length ? `repository IN (${filter.repositories.map((r) => p(r)).join(', ')})` : '1 = 0');
    for (const e of extra) clauses.push(e.sql.replace('?', p(e.value)));
    return { sql: clauses.join(' AND '), params };
  }

  /** The most downloaded packages in the window, by format and name (all repositories of the filter together). */
  async top(filter: StatsFilter, limit = 10): Promise<TopPackage[]> {
    const w = this.where(filter);
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT format, name, SUM(downloads) AS downloads, SUM(bytes) AS bytes FROM download_count WHERE ${w.sql} GROUP BY format, name
       HAVING SUM(downloads) > 0 ORDER BY SUM(downloads) DESC, name ASC LIMIT ${Math.max(1, Math.min(10_000, Math.floor(limit)))}`,
      w.params,
    );
    return rows.map((r) => ({ format: String(r['format']), name: String(r['name']), downloads: num(r['downloads']), bytes: num(r['bytes']) }));
  }

  /** One package's counts; `undefined` when it has no row in the window. */
  async package(name: string, filter: StatsFilter): Promise<PackageStats | undefined> {
    const since = filter.since ?? windowStart(30, this.now());
    const w = this.where({ ...filter, since }, [{ sql: 'name = ?', value: name }]);
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT version, day, cache, SUM(downloads) AS downloads, SUM(bytes) AS bytes FROM download_count WHERE ${w.sql} GROUP BY version, day, cache`,
      w.params,
    );
    if (rows.length === 0) return undefined;
    const versions = new Map<string, { downloads: number; bytes: number }>();
    const days = new Map<string, { downloads: number; bytes: number }>();
    const cache: Record<DownloadCache, number> = { HIT: 0, MISS: 0, STALE: 0, HOSTED: 0 };
    let downloads = 0;
    let bytes = 0;
    for (const r of rows) {
      const d = num(r['downloads']);
      const b = num(r['bytes']);
      downloads += d;
      bytes += b;
      const version = String(r['version']);
      if (version !== '') {
        const v = versions.get(version) ?? { downloads: 0, bytes: 0 };
        versions.set(version, { downloads: v.downloads + d, bytes: v.bytes + b });
      }
      const dayRow = days.get(String(r['day'])) ?? { downloads: 0, bytes: 0 };
      days.set(String(r['day']), { downloads: dayRow.downloads + d, bytes: dayRow.bytes + b });
      const c = String(r['cache']) as DownloadCache;
      if (c in cache) cache[c] += d;
    }
    const timeline: { day: string; downloads: number; bytes: number }[] = [];
    for (let t = Date.parse(`${since}T00:00:00Z`), end = this.now(); t <= end; t += DAY_MS) {
      const day = dayOf(t);
      timeline.push({ day, ...(days.get(day) ?? { downloads: 0, bytes: 0 }) });
    }
    return {
      name,
      since,
      downloads,
      bytes,
      versions: [...versions].map(([version, v]) => ({ version, ...v })).sort((a, b) => b.downloads - a.downloads || (a.version < b.version ? -1 : 1)),
      days: timeline,
      cache,
    };
  }

  /**
   * Totals per repository in the window (downloads) and now (what is stored). Repositories
   * with nothing stored and nothing downloaded are left out.
   */
  async totalsByRepository(filter: StatsFilter): Promise<Map<string, StatsTotals & { readonly format?: string }>> {
    const w = this.where(filter);
    const downloads: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT repository, format, SUM(downloads) AS downloads, SUM(bytes) AS bytes, SUM(CASE WHEN cache IN ('HIT', 'STALE') THEN downloads ELSE 0 END) AS saved
       FROM download_count WHERE ${w.sql} GROUP BY repository, format`,
      w.params,
    );
    const stored = await this.stored(filter.repositories);
    const result = new Map<string, StatsTotals & { format?: string }>();
    for (const [repository, s] of stored) result.set(repository, { ...s, downloads: 0, bytesServed: 0, upstreamSaved: 0 });
    for (const r of downloads) {
      const repository = String(r['repository']);
      const s = stored.get(repository) ?? { artifacts: 0, bytesStored: 0 };
      result.set(repository, { ...s, format: String(r['format']), downloads: num(r['downloads']), bytesServed: num(r['bytes']), upstreamSaved: num(r['saved']) });
    }
    return result;
  }

  /**
   * Stored files per repository: content files and bytes, each distinct content counted once
   * per repository; and for `repositories` together (`*`), each distinct content once overall.
   */
  async stored(repositories?: readonly string[]): Promise<Map<string, { artifacts: number; bytesStored: number }>> {
    const params: unknown[] = [];
    let where = 'pending IS NULL';
    if (repositories !== undefined) {
      if (repositories.length === 0) return new Map();
      where += ` AND repository IN (${repositories.map((r) => (params.push(r), this.postgres ? `$${params.length}` : '?')).join(', ')})`;
    }
    const counts: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT repository, SUM(CASE WHEN kind = 'content' THEN 1 ELSE 0 END) AS artifacts FROM asset WHERE ${where} GROUP BY repository`,
      params,
    );
    const sizes: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT repository, SUM(size) AS bytes FROM (SELECT DISTINCT repository, sha256, size FROM asset WHERE ${where}) d GROUP BY repository`,
      params,
    );
    const all: Record<string, unknown>[] = await this.dataSource.query(`SELECT SUM(size) AS bytes FROM (SELECT DISTINCT sha256, size FROM asset WHERE ${where}) d`, params);
    const result = new Map<string, { artifacts: number; bytesStored: number }>();
    for (const r of counts) result.set(String(r['repository']), { artifacts: num(r['artifacts']), bytesStored: 0 });
    for (const r of sizes) {
      const entry = result.get(String(r['repository']));
      if (entry) entry.bytesStored = num(r['bytes']);
    }
    result.set('*', { artifacts: [...result.values()].reduce((n, e) => n + e.artifacts, 0), bytesStored: num(all[0]?.['bytes']) });
    return result;
  }

  /** Content files most recently stored (a proxy's newest cached files), newest first. */
  async recentlyCached(repositories: readonly string[], limit = 20): Promise<StoredFile[]> {
    return this.files(repositories, '', [], 'created_at DESC', limit);
  }

  /** Content files stored more than `days` days ago and never downloaded since (what a cleanup could remove), oldest first. */
  async neverDownloaded(repositories: readonly string[], days: number, limit = 100): Promise<StoredFile[]> {
    return this.files(repositories, 'AND last_downloaded_at IS NULL AND created_at < ?', [this.now() - days * DAY_MS], 'created_at ASC', limit);
  }

  private async files(repositories: readonly string[], condition: string, values: unknown[], order: string, limit: number): Promise<StoredFile[]> {
    if (repositories.length === 0) return [];
    const params: unknown[] = [];
    const p = (value: unknown) => (params.push(value), this.postgres ? `$${params.length}` : '?');
    const inList = repositories.map((r) => p(r)).join(', ');
    let extra = condition;
    for (const value of values) extra = extra.replace('?', p(value));
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT repository, path, size, created_at, last_downloaded_at FROM asset WHERE kind = 'content' AND pending IS NULL AND repository IN (${inList}) ${extra}
       ORDER BY ${order}, path ASC LIMIT ${Math.max(1, Math.min(10_000, Math.floor(limit)))}`,
      params,
    );
    return rows.map((r) => ({
      repository: String(r['repository']),
      path: String(r['path']),
      size: num(r['size']),
      createdAt: new Date(num(r['created_at'])).toISOString(),
      ...(r['last_downloaded_at'] !== null && r['last_downloaded_at'] !== undefined ? { lastDownloadedAt: new Date(num(r['last_downloaded_at'])).toISOString() } : {}),
    }));
  }
}
