import type { DownloadOf, ServedFile } from '@registry-core/api';

/** A `.crate` file (`crates/<name>/<name>-<version>.crate`, hosted or cached) is a download of that version. */
export function downloadOf(served: ServedFile): DownloadOf | undefined {
  const m = /^crates\/([^/]+)\/([^/]+)\.crate$/.exec(served.assetPath);
  if (!m || !m[2]!.startsWith(`${m[1]}-`)) return undefined;
  const version = m[2]!.slice(m[1]!.length + 1);
  return version ? { name: m[1]!, version } : undefined;
}
