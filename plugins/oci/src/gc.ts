import { type FormatTask, type RepositoryHandle } from '@registry-core/api';
import { allAssets, indexedImages, syncComponents } from './components.js';
import type { CatalogDocument, ManifestAttributes } from './hosted.js';
import { digestOfPath, documents } from './names.js';

/** Default seconds a blob is kept unreferenced: a push uploads blobs before its manifest. */
export const GC_GRACE_SECONDS = 3600;

/** The lock name that serialises manifest pushes and garbage collection of one image. */
function imageLockKey(image: string): string {
  return `image:${image}`;
}

/** Run `work` under the image's lock (the repository's, across nodes on PostgreSQL). */
export function withImageLock<T>(repository: RepositoryHandle, image: string, work: () => Promise<T>): Promise<T> {
  return repository.withLock(imageLockKey(image), work);
}

/** Digests the manifests of one image reference (parsed at push; read for proxied ones). */
async function referencesOf(repository: RepositoryHandle, image: string): Promise<Set<string> | 'all'> {
  const refs = new Set<string>();
  for (const prefix of [`${image}/_manifests/`, `${image}/_tags/`]) {
    for await (const asset of allAssets(repository, prefix)) {
      const recorded = (asset.attributes as Partial<ManifestAttributes>).references;
      if (recorded) {
        for (const d of recorded) refs.add(d);
        continue;
      }
      try {
        const doc = await asset.readJson<{ config?: { digest?: unknown }; layers?: { digest?: unknown }[] }>(4 * 1024 * 1024);
        for (const d of [doc.config, ...(Array.isArray(doc.layers) ? doc.layers : [])]) if (typeof d?.digest === 'string') refs.add(d.digest);
      } catch {
        return 'all';
      }
    }
  }
  return refs;
}

/** Where a hosted repository's component index was made whole once (kv key). */
const INDEXED_KEY = 'components-indexed';

/**
 * Index the images a hosted repository held before it kept its component index (once): a
 * group would otherwise take an image stored here for nobody's and ask its proxies for it.
 */
export async function indexComponentsOnce(repository: RepositoryHandle): Promise<void> {
  if (await repository.kv.get<number>(INDEXED_KEY)) return;
  const images = (await repository.documents.get<CatalogDocument>(documents.catalog))?.value.images ?? [];
  for (const image of images) await withImageLock(repository, image, () => syncComponents(repository, image));
  await repository.kv.set(INDEXED_KEY, 1);
}

/**
 * Garbage collection of one repository: a blob of an image that no manifest of that image
 * references, unreferenced for longer than the grace period, is removed (its bytes go when
 * no other asset, in any repository, shares them). Safe against pushes running meanwhile:
 * each image is collected under the lock a manifest push takes to check its blobs and
 * store itself, and blobs younger than the grace period (a push in progress uploads them
 * before its manifest) are kept. With `components` (a hosted repository), the component
 * index is made whole on the way for every image stored or indexed here.
 */
export async function collectGarbage(
  repository: RepositoryHandle,
  options: { dryRun: boolean; graceSeconds?: number; now?: number; components?: boolean },
): Promise<{ images: number; blobs: number; bytes: number; kept: number; removed: string[] }> {
  const cutoff = (options.now ?? Date.now()) - (options.graceSeconds ?? GC_GRACE_SECONDS) * 1000;
  const images = new Set<string>();
  const stored = new Set<string>();
  for await (const asset of allAssets(repository, '')) {
    const m = /^(.*)\/_(blobs|manifests)\//.exec(asset.path);
    if (!m) continue;
    if (m[2] === 'blobs') images.add(m[1]!);
    stored.add(m[1]!);
  }
  // An indexed name whose manifests are all gone loses its versions here.
  const reindex = options.components && !options.dryRun ? new Set([...stored, ...(await indexedImages(repository))]) : new Set<string>();
  let blobs = 0;
  let bytes = 0;
  let kept = 0;
  const removed: string[] = [];
  for (const image of new Set([...images, ...reindex])) {
    await withImageLock(repository, image, async () => {
      if (reindex.has(image)) await syncComponents(repository, image);
      if (!images.has(image)) return;
      const refs = await referencesOf(repository, image);
      for await (const asset of allAssets(repository, `${image}/_blobs/`)) {
        const digest = digestOfPath(asset.path);
        if (!digest || refs === 'all' || refs.has(digest.text) || asset.createdAt.getTime() > cutoff) {
          kept++;
          continue;
        }
        blobs++;
        bytes += asset.size;
        if (removed.length < 100) removed.push(`${image}@${digest.text}`);
        if (!options.dryRun) await repository.assets.delete(asset.path);
      }
    });
  }
  return { images: images.size, blobs, bytes, kept, removed };
}

export const gcTask: FormatTask = {
  name: 'gc',
  description: 'remove blobs no manifest references (unreferenced for repositories.<name>.gcGraceSeconds, default an hour); --dry-run lists them',
  intervalSeconds: 24 * 3600,
  async run(repository, { dryRun, logger }) {
    if (repository.type === 'group') return { skipped: 'group' };
    const grace = repository.config['gcGraceSeconds'];
    const components = repository.type === 'hosted';
    const report = await collectGarbage(repository, { dryRun, components, ...(typeof grace === 'number' ? { graceSeconds: grace } : {}) });
    if (report.blobs > 0) logger.info(`${dryRun ? 'would remove' : 'removed'} ${report.blobs} unreferenced blobs (${report.bytes} bytes)`);
    return report;
  },
};
