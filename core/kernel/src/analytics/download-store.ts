import type { DataSource } from 'typeorm';

/** How a download was answered: from a proxy's cache (HIT), its upstream (MISS), a stale copy, or a hosted repository. */
export type DownloadCache = 'HIT' | 'MISS' | 'STALE' | 'HOSTED';

/** The key of one daily row: what was downloaded, where, how and which UTC day (`YYYY-MM-DD`). */
export interface DownloadKey {
  readonly repository: string;
  readonly format: string;
  readonly name: string;
  readonly version: string;
  readonly day: string;
  readonly cache: DownloadCache;
}

/** One daily row's counts (added to what the store holds). */
export interface DownloadCounts {
  downloads: number;
  bytes: number;
}

/** Rows written per statement (8 parameters each, far below either engine's limit). */
const ROWS_PER_STATEMENT = 200;

/** The UTC day of `epochMs`, as rows key it. */
export function dayOf(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

/**
 * The `download_count` table: daily rows added to with one upsert per batch, so every node
 * sharing the metadata store adds to the same totals. Rows are written in key order: two
 * nodes flushing overlapping batches on PostgreSQL take row locks in the same order and
 * cannot deadlock.
 */
export class DownloadStore {
  private readonly postgres: boolean;

  constructor(readonly dataSource: DataSource) {
    this.postgres = dataSource.options.type === 'postgres';
  }

  /** `$n` on PostgreSQL, `?` on SQLite. */
  placeholder(n: number): string {
    return this.postgres ? `$${n}` : '?';
  }

  async add(rows: readonly (readonly [DownloadKey, DownloadCounts])[]): Promise<void> {
    const sorted = [...rows].sort(([a], [b]) => compareKeys(a, b));
    for (let i = 0; i < sorted.length; i += ROWS_PER_STATEMENT) {
      const slice = sorted.slice(i, i + ROWS_PER_STATEMENT);
      const params: unknown[] = [];
      const values = slice.map(([k, c]) => {
        const base = params.length;
        params.push(k.repository, k.day, k.name, k.version, k.cache, k.format, c.downloads, c.bytes);
        return `(${Array.from({ length: 8 }, (_, j) => this.placeholder(base + j + 1)).join(', ')})`;
      });
      await this.dataSource.query(
        `INSERT INTO download_count (repository, day, name, version, cache, format, downloads, bytes) VALUES ${values.join(', ')}
         ON CONFLICT (repository, day, name, version, cache) DO UPDATE SET downloads = download_count.downloads + excluded.downloads, bytes = download_count.bytes + excluded.bytes`,
        params,
      );
    }
  }

  /** Set `last_downloaded_at` of the files given (paths by repository). */
  async touch(paths: ReadonlyMap<string, ReadonlySet<string>>, at: number): Promise<void> {
    for (const [repository, set] of [...paths].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const all = [...set].sort();
      for (let i = 0; i < all.length; i += ROWS_PER_STATEMENT) {
        const slice = all.slice(i, i + ROWS_PER_STATEMENT);
        const list = slice.map((_, j) => this.placeholder(j + 3)).join(', ');
        await this.dataSource.query(`UPDATE asset SET last_downloaded_at = ${this.placeholder(1)} WHERE repository = ${this.placeholder(2)} AND path IN (${list})`, [at, repository, ...slice]);
      }
    }
  }

  /** Remove the rows of days before `day`; resolves how many. */
  async pruneBefore(day: string): Promise<number> {
    const result = await this.dataSource.createQueryBuilder().delete().from('download_count').where('day < :day', { day }).execute();
    return result.affected ?? 0;
  }
}

function compareKeys(a: DownloadKey, b: DownloadKey): number {
  for (const field of ['repository', 'day', 'name', 'version', 'cache'] as const) {
    if (a[field] !== b[field]) return a[field] < b[field] ? -1 : 1;
  }
  return 0;
}
