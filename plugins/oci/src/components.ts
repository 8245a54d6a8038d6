import type { Asset, RepositoryHandle } from '@registry-core/api';
import type { ManifestAttributes, TagsDocument } from './hosted.js';
import { digestOfPath, documents, paths } from './names.js';

/** Every asset under `prefix`, page by page. */
export async function* allAssets(repository: RepositoryHandle, prefix: string): AsyncGenerator<Asset> {
  let after: string | undefined;
  do {
    const page = await repository.assets.list(prefix, after === undefined ? {} : { after });
    yield* page.assets;
    after = page.next;
  } while (after !== undefined);
}

/**
 * The component versions a hosted image should have: one per tag (of a manifest that is
 * there), and one per untagged manifest that no other manifest of the image references
 * (a push by digest: a signature, an attestation, an untagged image), named by its digest.
 * The children of an index are the index's version, not versions of their own.
 */
async function wantedVersions(repository: RepositoryHandle, image: string): Promise<Map<string, { digest: string; mediaType: string }>> {
  const manifests = new Map<string, Partial<ManifestAttributes>>();
  for await (const asset of allAssets(repository, paths.manifests(image))) {
    const digest = digestOfPath(asset.path);
    if (digest) manifests.set(digest.text, asset.attributes as Partial<ManifestAttributes>);
  }
  const tags = (await repository.documents.get<TagsDocument>(documents.tags(image)))?.value.tags ?? {};
  const wanted = new Map<string, { digest: string; mediaType: string }>();
  for (const [tag, digest] of Object.entries(tags)) {
    const attributes = manifests.get(digest);
    if (attributes) wanted.set(tag, { digest, mediaType: attributes.mediaType ?? '' });
  }
  const tagged = new Set(Object.values(tags));
  const referenced = new Set([...manifests.values()].flatMap((a) => a.references ?? []));
  for (const [digest, attributes] of manifests) {
    if (!tagged.has(digest) && !referenced.has(digest)) wanted.set(digest, { digest, mediaType: attributes.mediaType ?? '' });
  }
  return wanted;
}

/**
 * Make a hosted repository's component index say what it holds of `image`: a version per
 * tag, or the digest of an untagged push, and none once its last manifest is gone. A group
 * takes the repository that holds an image's components as the image's owner, so this runs
 * after every change to an image's manifests or tags, under the image's lock.
 */
export async function syncComponents(repository: RepositoryHandle, image: string): Promise<void> {
  const wanted = await wantedVersions(repository, image);
  const current = await repository.components.versions(image);
  for (const component of current) {
    if (!wanted.has(component.version)) await repository.components.remove(image, component.version);
  }
  const indexed = new Map(current.map((c) => [c.version, c.attributes['digest']]));
  for (const [version, attributes] of wanted) {
    if (indexed.get(version) !== attributes.digest) await repository.components.upsert({ name: image, version, attributes });
  }
}

/** Every image name a repository's component index holds (for repairs: names with nothing left). */
export async function indexedImages(repository: RepositoryHandle): Promise<Set<string>> {
  const names = new Set<string>();
  const limit = 500;
  for (let offset = 0; ; offset += limit) {
    const found = await repository.components.search({ text: '', offset, limit });
    for (const c of found.items) names.add(c.name);
    if (found.items.length < limit || offset + limit >= found.total) return names;
  }
}
