import { type Asset, type PackageFile, type PackageView, type RepositoryHandle, type RepositoryInfo } from '@registry-core/api';
import { allAssets } from './components.js';
import type { TagsDocument } from './hosted.js';
import { MAX_MANIFEST_BYTES } from './manifest.js';
import { checkTag, documents, imageName, parseDigest, paths, type Digest } from './names.js';

/** Largest image config blob read for its labels (real ones are a few KiB; the rest of a config is history and rootfs digests). */
const MAX_CONFIG_BYTES = 1024 * 1024;
/** Tags read from a proxy's cache of them, at most. */
const MAX_CACHED_TAGS = 500;

type Json = Record<string, unknown>;
const record = (value: unknown): Json | undefined => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined);
const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** The label keys shown, and the fact each becomes (the description is the view's own). */
const LABELS: readonly [string, string][] = [
  ['org.opencontainers.image.source', 'source'],
  ['org.opencontainers.image.licenses', 'licenses'],
  ['org.opencontainers.image.url', 'url'],
  ['org.opencontainers.image.version', 'image version'],
];
const DESCRIPTION = 'org.opencontainers.image.description';

/**
 * An image's tags: a hosted repository's tag document; a proxy's tags it has cached a
 * manifest of (`<image>/_tags/<tag>`, the digest being the cached bytes'), never asked upstream.
 */
async function tagsOf(repository: RepositoryHandle, image: string): Promise<Record<string, string>> {
  const hosted = (await repository.documents.get<TagsDocument>(documents.tags(image)))?.value.tags;
  if (hosted) return { ...hosted };
  const tags: Record<string, string> = {};
  const prefix = `${image}/_tags/`;
  let count = 0;
  for await (const asset of allAssets(repository, prefix)) {
    const tag = asset.path.slice(prefix.length);
    if (!tag.includes('/') && asset.digests.sha256) tags[tag] = `sha256:${asset.digests.sha256}`;
    if (++count >= MAX_CACHED_TAGS) break;
  }
  return tags;
}

/** A stored manifest (or config blob) as JSON, `undefined` when absent, too large or not JSON. */
async function readJson(asset: Asset | undefined, maxBytes: number): Promise<Json | undefined> {
  if (!asset || asset.size > maxBytes) return undefined;
  return record(await asset.readJson(maxBytes).catch(() => undefined));
}

function digestOf(value: unknown): Digest | undefined {
  try {
    return parseDigest(typeof value === 'string' ? value : undefined);
  } catch {
    return undefined;
  }
}

const short = (digest: Digest) => `${digest.algorithm}:${digest.hex.slice(0, 12)}`;

/** `linux/arm64/v8` from a descriptor's platform. */
function platformOf(descriptor: Json): string | undefined {
  const platform = record(descriptor['platform']);
  const parts = [text(platform?.['os']), text(platform?.['architecture']), text(platform?.['variant'])].filter((p): p is string => p !== undefined);
  return parts.length ? parts.join('/') : undefined;
}

/**
 * An image for people (FormatDefinition.packageView): its tags, and of one tag (or digest)
 * the manifest's media type and digest, an index's platforms, a manifest's config and layers
 * (as files: the host adds sizes and digests) and the labels of its config
 * (`org.opencontainers.image.description`, `.source`, `.licenses`). Only stored bytes are
 * read: a proxy shows what it cached.
 */
export async function ociPackageView(repository: RepositoryHandle, name: string, version: string | undefined): Promise<PackageView | undefined> {
  let image: string;
  try {
    image = imageName(name);
  } catch {
    return undefined;
  }
  const tags = await tagsOf(repository, image);
  const tagNames = Object.keys(tags).sort();
  const shown = version ?? (tags['latest'] ? 'latest' : tagNames.at(-1));
  if (shown === undefined) return undefined;
  let digest = digestOf(shown.includes(':') ? shown : tags[shown]);
  let manifestAsset: Asset | undefined;
  if (digest) manifestAsset = await repository.assets.get(paths.manifest(image, digest));
  if (!manifestAsset && !shown.includes(':')) {
    // A proxy's tag answer is kept under the tag as well (the by-digest link may be missing).
    try {
      manifestAsset = await repository.assets.get(paths.tagCache(image, checkTag(shown)));
    } catch {
      return undefined;
    }
    digest ??= manifestAsset?.digests.sha256 ? digestOf(`sha256:${manifestAsset.digests.sha256}`) : undefined;
  }
  const manifest = await readJson(manifestAsset, MAX_MANIFEST_BYTES);
  const facts: Record<string, string> = {};
  const files: PackageFile[] = [];

  if (digest) facts['digest'] = digest.text;
  const mediaType = text(manifest?.['mediaType']) ?? (manifest && Array.isArray(manifest['manifests']) ? 'application/vnd.oci.image.index.v1+json' : undefined);
  if (mediaType) facts['media type'] = mediaType;
  let labelled: Json | undefined = manifest;
  if (manifest && Array.isArray(manifest['manifests'])) {
    const children = manifest['manifests'].map(record).filter((d): d is Json => d !== undefined);
    const platforms = children.map(platformOf).filter((p): p is string => p !== undefined);
    if (platforms.length) facts['platforms'] = platforms.join(', ');
    for (const child of children) {
      const childDigest = digestOf(child['digest']);
      if (childDigest) files.push({ path: paths.manifest(image, childDigest), name: `manifest ${platformOf(child) ?? short(childDigest)}` });
    }
    // The labels of an index are its first image's (what `docker pull` on this machine would likely get).
    const first = children.map((c) => digestOf(c['digest'])).find((d): d is Digest => d !== undefined);
    labelled = first ? await readJson(await repository.assets.get(paths.manifest(image, first)), MAX_MANIFEST_BYTES) : undefined;
  }
  const layers = Array.isArray(labelled?.['layers']) ? (labelled['layers'] as unknown[]).map(record).filter((d): d is Json => d !== undefined) : [];
  const configDigest = digestOf(record(labelled?.['config'])?.['digest']);
  if (labelled === manifest) {
    if (configDigest) files.push({ path: paths.blob(image, configDigest), name: `config ${short(configDigest)}` });
    layers.forEach((layer, i) => {
      const layerDigest = digestOf(layer['digest']);
      if (layerDigest) files.push({ path: paths.blob(image, layerDigest), name: `layer ${i + 1} ${short(layerDigest)}` });
    });
    if (layers.length) facts['layers'] = String(layers.length);
  }
  const labels: Json = { ...record(labelled?.['annotations']), ...record(manifest?.['annotations']) };
  if (configDigest) {
    const config = await readJson(await repository.assets.get(paths.blob(image, configDigest)), MAX_CONFIG_BYTES);
    Object.assign(labels, record(record(config?.['config'])?.['Labels']));
    const platform = [text(config?.['os']), text(config?.['architecture'])].filter(Boolean).join('/');
    if (platform && !facts['platforms']) facts['platform'] = platform;
  }
  const description = text(labels[DESCRIPTION]);
  for (const [label, fact] of LABELS) {
    const value = text(labels[label]);
    if (value) facts[fact] = value;
  }
  return {
    version: shown,
    ...(description ? { description } : {}),
    tags,
    files,
    facts,
  };
}

/** The image reference clients pull from `repository`: `<host>/<repository>/<image>`, or `<host>/<image>` on the repository's own port. */
export function imageReference(repository: RepositoryInfo, image: string): string {
  const url = new URL(repository.url);
  return typeof repository.config['port'] === 'number' && url.pathname === '/' ? `${url.host}/${image}` : `${url.host}/${repository.name}/${image}`;
}

/** `docker pull <host>/<repository>/<image>:<tag>` (FormatDefinition.installLines); a digest is pulled as `@sha256:...`. */
export function ociInstallLines(repository: RepositoryInfo, name: string, version: string | undefined): string[] {
  const reference = `${imageReference(repository, name)}${version === undefined ? ':latest' : version.includes(':') ? `@${version}` : `:${version}`}`;
  return [`docker pull ${reference}`, `podman pull ${repository.url.startsWith('http:') ? '--tls-verify=false ' : ''}${reference}`];
}
