import { createHash } from 'node:crypto';
import type { Logger } from '@registry-core/api';
import type { AssetRow } from '../metadata/entities.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { BlobStore } from './blob-store.js';

/** One asset found bad by {@link CacheMaintenance.verify}. */
export interface BadAsset {
  readonly repository: string;
  readonly path: string;
  readonly reason: string;
}

/** What {@link CacheMaintenance.clean} removed (or would remove, in a dry run). */
export interface CleanSummary {
  readonly expiredMetadata: number;
  readonly unusedContent: number;
  readonly evictedForSize: number;
  readonly bytesFreed: number;
  readonly dryRun: boolean;
}

export interface CleanOptions {
  readonly dryRun?: boolean;
  /** Remove cached content (and expired metadata) not downloaded for this many days. */
  readonly unusedDays: number;
  /** Per storage: the most bytes of cached (proxy) content to keep, least recently used evicted first. */
  readonly maxCacheBytes?: Readonly<Record<string, number>>;
  readonly onProgress?: (message: string) => void;
}

const PAGE = 500;
const DAY = 86_400_000;

/**
 * Cache upkeep over the metadata store and the blob stores: `verify` re-hashes stored
 * blobs against their rows; `clean` removes what proxies cached and nobody uses. Only
 * proxy repositories' assets are ever evicted: hosted content is the source of truth.
 */
export class CacheMaintenance {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly stores: ReadonlyMap<string, BlobStore>,
    /** Names of the proxy repositories (the only ones whose assets may be evicted). */
    private readonly proxies: ReadonlySet<string>,
    private readonly logger: Logger,
  ) {}

  /** Re-hash every stored asset (or one repository's); with `repair`, drop the bad ones. */
  async verify(options: { repair?: boolean; repository?: string; onProgress?: (checked: number) => void } = {}): Promise<{ checked: number; bad: BadAsset[] }> {
    const bad: BadAsset[] = [];
    let checked = 0;
    let lastId = 0;
    for (;;) {
      const query = this.metadata.assets
        .createQueryBuilder('a')
        .where('a.id > :lastId', { lastId })
        .orderBy('a.id', 'ASC')
        .take(PAGE);
      if (options.repository) query.andWhere('a.repository = :repository', { repository: options.repository });
      const rows = await query.getMany();
      if (rows.length === 0) break;
      for (const row of rows) {
        lastId = row.id!;
        const reason = await this.check(row);
        checked++;
        if (reason) {
          bad.push({ repository: row.repository, path: row.path, reason });
          if (options.repair) await this.drop(row);
        }
      }
      options.onProgress?.(checked);
    }
    return { checked, bad };
  }

  private async check(row: AssetRow): Promise<string | undefined> {
    const store = this.stores.get(row.storage);
    if (!store) return `storage "${row.storage}" is not configured`;
    const stream = await store.driver.get(row.blobKey);
    if (!stream) return 'blob missing from storage';
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of stream) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
    } catch (error) {
      return `blob unreadable: ${(error as Error).message}`;
    }
    if (size !== row.size) return `size is ${size}, the metadata says ${row.size}`;
    const sha256 = hash.digest('hex');
    if (sha256 !== row.sha256) return `sha256 is ${sha256}, the metadata says ${row.sha256}`;
    return undefined;
  }

  /** Remove an asset row, then its blob if nothing else references it. */
  private async drop(row: AssetRow): Promise<void> {
    await this.metadata.deleteAssetRow(row);
    const store = this.stores.get(row.storage);
    await store?.release(row.blobKey, () => this.metadata.blobInUse(row.storage, row.blobKey));
  }

  /** Remove expired metadata and unused content of proxies, then enforce size limits (LRU). */
  async clean(options: CleanOptions): Promise<CleanSummary> {
    const dryRun = options.dryRun ?? false;
    const now = Date.now();
    const cutoff = now - options.unusedDays * DAY;
    const proxies = [...this.proxies];
    let expiredMetadata = 0;
    let unusedContent = 0;
    let evictedForSize = 0;
    let bytesFreed = 0;
    const remove = async (row: AssetRow) => {
      bytesFreed += row.size;
      if (!dryRun) await this.drop(row);
    };
    if (proxies.length > 0) {
      const lastUse = 'COALESCE(a.last_downloaded_at, a.updated_at)';
      const stale = await this.metadata.assets
        .createQueryBuilder('a')
        .where('a.repository IN (:...proxies)', { proxies })
        .andWhere(`${lastUse} < :cutoff`, { cutoff })
        .andWhere("(a.kind = 'content' OR (a.kind = 'metadata' AND a.expires_at < :now))", { now })
        .getMany();
      for (const row of stale) {
        if (row.kind === 'metadata') expiredMetadata++;
        else unusedContent++;
        await remove(row);
      }
      options.onProgress?.(`unused for ${options.unusedDays} days: ${stale.length} assets`);
      for (const [storage, limit] of Object.entries(options.maxCacheBytes ?? {})) {
        const rows = await this.metadata.assets
          .createQueryBuilder('a')
          .where('a.repository IN (:...proxies)', { proxies })
          .andWhere('a.storage = :storage', { storage })
          .orderBy(lastUse, 'DESC')
          .getMany();
        let kept = 0;
        const removedIds = new Set(stale.map((r) => r.id));
        for (const row of rows) {
          if (removedIds.has(row.id)) continue;
          kept += row.size;
          if (kept > limit) {
            evictedForSize++;
            await remove(row);
          }
        }
        options.onProgress?.(`storage ${storage}: limit ${limit} bytes, ${evictedForSize} evicted`);
      }
    }
    if (!dryRun) await this.metadata.purgeExpiredNegatives(now);
    const summary = { expiredMetadata, unusedContent, evictedForSize, bytesFreed, dryRun };
    this.logger.info('cache clean', summary);
    return summary;
  }
}
