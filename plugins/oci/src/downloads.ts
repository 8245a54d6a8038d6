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
  return undefined;
}
