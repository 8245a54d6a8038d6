import type { DownloadOf, ServedFile } from '@registry-core/api';

const SDIST = /\.(?:tar\.gz|tar\.bz2|tar\.xz|tgz|zip)$/;

/**
 * A distribution file (`packages/<project>/<file>`, hosted or cached) is a download of its
 * project's version: a wheel's second dash-separated field, an sdist's last one. Its
 * `.metadata` (PEP 658) is bytes of the project, no download.
 */
export function downloadOf(served: ServedFile): DownloadOf | undefined {
  const m = /^packages\/([^/]+)\/([^/]+)$/.exec(served.assetPath);
  if (!m) return undefined;
  const project = m[1]!;
  let file = m[2]!;
  const metadata = file.endsWith('.metadata');
  if (metadata) file = file.slice(0, -'.metadata'.length);
  let version: string | undefined;
  if (file.endsWith('.whl')) version = file.split('-')[1];
  else if (SDIST.test(file)) {
    const stem = file.replace(SDIST, '');
    version = stem.slice(stem.lastIndexOf('-') + 1);
  }
  if (!version) return undefined;
  return { name: project, version, ...(metadata ? { counted: false } : {}) };
}
