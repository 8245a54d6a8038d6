import type { DownloadOf, ServedFile } from '@registry-core/api';

/**
 * A hosted package's archive (`packages/<name>/<version>/archive`) is a download of that
 * version. An archive a proxy fetched by URL has no registry name: it counts under the URL
 * without its scheme (`<host>/<path>`) when asked as `/url/...`, else under its hash.
 */
export function downloadOf(served: ServedFile): DownloadOf | undefined {
  const hosted = /^packages\/([^/]+)\/([^/]+)\/archive$/.exec(served.assetPath);
  if (hosted) return { name: hosted[1]!, version: hosted[2]! };
  const archive = /^(?:archives|fetched)\/([^/]+)$/.exec(served.assetPath);
  if (!archive) return undefined;
  const byUrl = /^\/url\/https?\/(.+)$/.exec(served.requestPath);
  if (byUrl) {
    try {
      return { name: byUrl[1]!.split('/').map(decodeURIComponent).join('/'), version: '' };
    } catch {
      return undefined;
    }
  }
  return { name: `archive:${archive[1]!}`, version: '' };
}
