import type { Asset, FormatTask, RepositoryHandle } from '@registry-core/api';
import type { ManifestAttributes } from './hosted.js';
import { digestOfPath } from './names.js';

/** Blobs younger than this are never collected: a push uploads blobs before its manifest. */
export const GC_GRACE_MS = 60 * 60_000;

async function* allAssets(repository: RepositoryHandle, prefix: string): AsyncGenerator<Asset> {
  let after: string | undefined;
  do {
    const page = await repository.assets.list(prefix, after === undefined ? {} : { after });
    yield* page.assets;
    after = page.next;
  } while (after !== undefined);
}

/**
 * Garbage collection of one repository: a blob of an image that no manifest of that image
 * references, older than the grace period, is removed (its bytes go when no other asset,
 * in any repository, shares them). Pushes running meanwhile are safe: their blobs are
 * younger than the grace period, and a manifest is only accepted once its blobs are there.
 */
export async function collectGarbage(repository: RepositoryHandle, options: { dryRun: boolean; now?: number }): Promise<{ blobs: number; bytes: number; kept: number; removed: string[] }> {
  const cutoff = (options.now ?? Date.now()) - GC_GRACE_MS;
  const referenced = new Map<string, Set<string>>();
  for await (const asset of allAssets(repository, '')) {
    const m = /^(.*)\/_manifests\//.exec(asset.path);
    if (!m) continue;
    const image = m[1]!;
    const set = referenced.get(image) ?? new Set<string>();
    for (const digest of (asset.attributes as Partial<ManifestAttributes>).references ?? []) set.add(digest);
    referenced.set(image, set);
  }
  // Proxied manifests were never parsed on the way in: read them (small) for their references.
  for await (const asset of allAssets(repository, '')) {
    const m = /^(.*)\/_(?:manifests|tags)\//.exec(asset.path);
    if (!m || (asset.attributes as Partial<ManifestAttributes>).references) continue;
    const set = referenced.get(m[1]!) ?? new Set<string>();
    try {
      const doc = JSON.parse((await asset.read(4 * 1024 * 1024)).toString('utf8')) as { config?: { digest?: unknown }; layers?: { digest?: unknown }[] };
      for (const d of [doc.config, ...(doc.layers ?? [])]) if (typeof d?.digest === 'string') set.add(d.digest);
    } catch {
      // Unreadable: keep everything of the image.
      set.add('*');
    }
    referenced.set(m[1]!, set);
  }
  let blobs = 0;
  let bytes = 0;
  let kept = 0;
  const removed: string[] = [];
  for await (const asset of allAssets(repository, '')) {
    const m = /^(.*)\/_blobs\//.exec(asset.path);
    if (!m) continue;
    const digest = digestOfPath(asset.path);
    const refs = referenced.get(m[1]!);
    if (!digest || refs?.has(digest.text) || refs?.has('*') || asset.createdAt.getTime() > cutoff) {
      kept++;
      continue;
    }
    blobs++;
    bytes += asset.size;
    if (removed.length < 100) removed.push(`${m[1]}@${digest.text}`);
    if (!options.dryRun) await repository.assets.delete(asset.path);
  }
  return { blobs, bytes, kept, removed };
}

export const gcTask: FormatTask = {
  name: 'gc',
  description: 'remove blobs no manifest references (older than an hour); --dry-run lists them',
  intervalSeconds: 24 * 3600,
  async run(repository, { dryRun, logger }) {
    if (repository.type === 'group') return { skipped: 'group' };
    const report = await collectGarbage(repository, { dryRun });
    if (report.blobs > 0) logger.info(`${dryRun ? 'would remove' : 'removed'} ${report.blobs} unreferenced blobs (${report.bytes} bytes)`);
    return report;
  },
};
