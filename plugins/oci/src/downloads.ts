import type { DownloadOf, ServedFile } from '@registry-core/api';

/**
 * A manifest GET (by tag or by digest) is a download of the image at that reference: a pull
 * of a single-platform image by tag counts once (a multi-platform one also counts the
 * platform's manifest, by digest). Blobs (layers, configs) are bytes of the image, no
 * download. Read from the request path, since a proxy keeps a tag's answer apart from the
 * manifest.
 */
export function downloadOf(served: ServedFile): DownloadOf | undefined {
  const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(served.requestPath);
  if (manifest) return { name: decodeURIComponent(manifest[1]!), version: decodeURIComponent(manifest[2]!) };
  const blob = /^\/v2\/(.+)\/blobs\/[^/]+$/.exec(served.requestPath);
  if (blob && !blob[1]!.endsWith('/blobs/uploads')) return { name: decodeURIComponent(blob[1]!), version: '', counted: false };
  return storedFileOf(served.assetPath);
}

/**
 * A stored file alone (the kernel's listing of what a proxy cached asks with the stored path
 * for the request path): a proxy's cached answer for a tag is that tag of the image; a
 * manifest or blob kept by digest is bytes of the image, of no one version (a digest is no
 * tag to list).
 */
function storedFileOf(assetPath: string): DownloadOf | undefined {
  const tag = /^(.+)\/_tags\/([^/]+)$/.exec(assetPath);
  if (tag) return { name: tag[1]!, version: tag[2]! };
  const byDigest = /^(.+)\/_(?:manifests|blobs)\/[^/]+\/[^/]+$/.exec(assetPath);
  if (byDigest) return { name: byDigest[1]!, version: '', counted: false };
  return undefined;
}
