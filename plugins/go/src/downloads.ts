import type { DownloadOf, ServedFile } from '@registry-core/api';
import { unescapeCase } from './module-path.js';

/**
 * A module zip (`<module>/@v/<version>.zip`, case-escaped, hosted or cached) is a download
 * of that version; its `.mod` is bytes of the module, no download (the go command reads
 * the go.mod of every version it considers); `.info` and lists are metadata.
 */
export function downloadOf(served: ServedFile): DownloadOf | undefined {
  const m = /^(.+)\/@v\/([^/]+)\.(zip|mod)$/.exec(served.assetPath);
  if (!m) return undefined;
  const name = unescapeCase(m[1]!);
  const version = unescapeCase(m[2]!);
  if (name === undefined || version === undefined) return undefined;
  return { name, version, ...(m[3] === 'mod' ? { counted: false } : {}) };
}
