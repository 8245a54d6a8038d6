import type { DistFile, ProjectPage } from './simple-index.js';
import { compareVersions } from './versions.js';

/**
 * Several members' pages for one project (the proxies of a group, or a hosted release and
 * snapshot pair), in member order: files united by filename, the first member's file winning;
 * versions united.
 */
export function mergePages(pages: readonly ProjectPage[]): ProjectPage {
  const seen = new Set<string>();
  const files: DistFile[] = [];
  const versions = new Set<string>();
  for (const page of pages) {
    for (const file of page.files) {
      if (seen.has(file.filename)) continue;
      seen.add(file.filename);
      files.push(file);
    }
    for (const version of page.versions) versions.add(version);
  }
  return { name: pages[0]!.name, files, versions: [...versions].sort(compareVersions) };
}
