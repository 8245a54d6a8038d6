import type { DownloadOf, ServedFile } from '@registry-core/api';
import { tarballVersion, type PackageName } from './names.js';

/** A tarball (`<name>/-/<base>-<version>.tgz`, hosted or cached) is a download of that version; nothing else is. */
export function downloadOf(served: ServedFile): DownloadOf | undefined {
  const m = /^((?:@[^/]+\/)?[^/@][^/]*)\/-\/([^/]+)$/.exec(served.assetPath);
  if (!m) return undefined;
  const full = m[1]!;
  const slash = full.indexOf('/');
  const name: PackageName = full.startsWith('@') ? { name: full, scope: full.slice(1, slash), base: full.slice(slash + 1) } : { name: full, scope: undefined, base: full };
  const version = tarballVersion(name, m[2]!);
  return version === undefined ? undefined : { name: full, version };
}
