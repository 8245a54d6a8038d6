import type { DownloadOf, ServedFile } from '@registry-core/api';

/**
 * A `.nupkg` (`v3-flatcontainer/<id>/<version>/<id>.<version>.nupkg`, hosted or cached) is a
 * download of that version; its `.nuspec` is bytes of the package, no download.
 */
export function downloadOf(served: ServedFile): DownloadOf | undefined {
  const m = /^v3-flatcontainer\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(served.assetPath);
  if (!m) return undefined;
  const [, id, version, file] = m as unknown as [string, string, string, string];
  if (file === `${id}.${version}.nupkg`) return { name: id, version };
  if (file === `${id}.nuspec`) return { name: id, version, counted: false };
  return undefined;
}
