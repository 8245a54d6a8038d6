import { randomUUID } from 'node:crypto';
import type { Logger } from '@registry-core/api';
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { BlobStore } from './blob-store.js';

/** What {@link copyStorage} did. */
export interface CopySummary {
  /** Blobs the metadata refers to in the source store. */
  readonly blobs: number;
  readonly copied: number;
  /** Already in the target with the right size (a resumed copy skips them). */
  readonly skipped: number;
  readonly bytesCopied: number;
  /** Blobs missing from the source or whose bytes do not match their address. */
  readonly failed: readonly { readonly blobKey: string; readonly reason: string }[];
  /** Asset rows now pointing at the target (with `switchRows`). */
  readonly rowsSwitched: number;
}

const PAGE = 500;

/**
 * Copy every blob the metadata store refers to in one storage into another, verifying
 * each against its content address (the target driver checks size and sha256 before the
 * object becomes visible). Blobs already in the target are skipped, so an interrupted copy
 * resumes where it stopped. With `switchRows`, asset rows are pointed at the target once
 * every blob is there (none failed): an operator then moves repositories to the target
 * store in the config, and the old store can be retired.
 */
export async function copyStorage(
  metadata: MetadataStore,
  from: BlobStore,
  to: BlobStore,
  options: { switchRows?: boolean; onProgress?: (done: number, total: number, bytes: number) => void; logger?: Logger } = {},
): Promise<CopySummary> {
  const keys: { blobKey: string; size: number }[] = [];
  let offset = 0;
  for (;;) {
    const page = (await metadata.assets
      .createQueryBuilder('a')
      .select('a.blob_key', 'blobKey')
      .addSelect('MAX(a.size)', 'size')
      .where('a.storage = :storage', { storage: from.name })
      .groupBy('a.blob_key')
      .orderBy('a.blob_key', 'ASC')
      .offset(offset)
      .limit(PAGE)
      .getRawMany()) as { blobKey: string; size: string | number }[];
    keys.push(...page.map((r) => ({ blobKey: r.blobKey, size: Number(r.size) })));
    if (page.length < PAGE) break;
    offset += PAGE;
  }
  let copied = 0;
  let skipped = 0;
  let bytesCopied = 0;
  const failed: { blobKey: string; reason: string }[] = [];
  for (const [index, { blobKey, size }] of keys.entries()) {
    const existing = await to.driver.head(blobKey);
    if (existing && existing.size === size) {
      skipped++;
    } else {
      const source = await from.driver.get(blobKey);
      if (!source) {
        failed.push({ blobKey, reason: `missing from storage ${from.name}` });
      } else {
        // Staged, checked, then moved: a copy cut short never leaves a partial blob.
        const staging = `staging/${randomUUID()}`;
        try {
          await to.driver.put(staging, source, { size, sha256: blobKey.split('/').pop()! });
          await to.driver.move(staging, blobKey);
          copied++;
          bytesCopied += size;
        } catch (error) {
          source.destroy();
          await to.driver.delete(staging).catch(() => undefined);
          failed.push({ blobKey, reason: (error as Error).message });
        }
      }
    }
    options.onProgress?.(index + 1, keys.length, bytesCopied);
  }
  let rowsSwitched = 0;
  if (options.switchRows && failed.length === 0) {
    const result = await metadata.assets.createQueryBuilder().update().set({ storage: to.name }).where('storage = :storage', { storage: from.name }).execute();
    rowsSwitched = result.affected ?? 0;
  }
  const summary = { blobs: keys.length, copied, skipped, bytesCopied, failed, rowsSwitched };
  options.logger?.info('storage copy', { from: from.name, to: to.name, ...summary, failed: failed.length });
  return summary;
}
