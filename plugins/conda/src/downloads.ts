import type { DownloadOf, ServedFile } from '@registry-core/api';
import { tryParsePackageFilename } from './names.js';

/** A package file (`<subdir>/<name>-<version>-<build>.conda|.tar.bz2`, hosted or cached) is a download of that version. */
export function downloadOf(served: ServedFile): DownloadOf | undefined {
  const m = /^[^/]+\/([^/]+)$/.exec(served.assetPath);
  const parsed = m ? tryParsePackageFilename(m[1]!) : undefined;
  return parsed ? { name: parsed.name, version: parsed.version } : undefined;
}
