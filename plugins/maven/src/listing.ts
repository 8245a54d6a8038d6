import type { AssetStore } from '@registry-core/api';
import { escapeXml } from '@registry-core/api';

/** One row of a folder listing. */
export interface ListingEntry {
  readonly name: string;
  readonly directory: boolean;
  readonly size?: number;
  /** ISO time. */
  readonly modified?: string;
}

/** Rows shown at most in one listing. */
export const MAX_LISTING = 2000;
/** Sorts after every character a stored path may hold: skips a whole sub-folder. */
const PAST_FOLDER = '/\u{10FFFF}';

/**
 * The children of folder `prefix` (with a trailing `/`, or empty for the root) among the
 * stored assets: a page of the asset list at a time, jumping over each sub-folder once seen,
 * so a listing costs one query per child rather than one row per file below it.
 */
export async function listStored(assets: AssetStore, prefix: string): Promise<ListingEntry[]> {
  const entries: ListingEntry[] = [];
  let after: string | undefined;
  while (entries.length < MAX_LISTING) {
    const page = await assets.list(prefix, { ...(after !== undefined ? { after } : {}), limit: 200 });
    let jumped = false;
    for (const asset of page.assets) {
      const rest = asset.path.slice(prefix.length);
      const slash = rest.indexOf('/');
      if (slash >= 0) {
        const name = rest.slice(0, slash);
        entries.push({ name, directory: true });
        after = `${prefix}${name}${PAST_FOLDER}`;
        jumped = true;
        break;
      }
      entries.push({ name: rest, directory: false, size: asset.size, modified: asset.updatedAt.toISOString() });
      after = asset.path;
    }
    if (!jumped && page.next === undefined) break;
    if (!jumped) after = page.next;
  }
  return entries;
}

/** Entries united by name (a folder in any member is a folder), sorted: folders first. */
export function mergeListings(lists: readonly (readonly ListingEntry[])[]): ListingEntry[] {
  const byName = new Map<string, ListingEntry>();
  for (const list of lists) for (const entry of list) if (!byName.has(entry.name)) byName.set(entry.name, entry);
  return sortListing([...byName.values()]);
}

export function sortListing(entries: ListingEntry[]): ListingEntry[] {
  return entries.sort((a, b) => (a.directory !== b.directory ? (a.directory ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The HTML page people browse: links relative to the folder, so it works behind any prefix. */
export function renderListing(title: string, entries: readonly ListingEntry[], root: boolean): string {
  const rows = entries.map((e) => {
    const href = encodeURI(e.name) + (e.directory ? '/' : '');
    const label = escapeXml(e.name + (e.directory ? '/' : ''));
    const facts = e.directory || e.size === undefined ? '' : `${' '.repeat(Math.max(1, 60 - label.length))}${e.modified?.slice(0, 16).replace('T', ' ') ?? ''}  ${e.size ?? ''}`;
    return `<a href="${escapeXml(href)}">${label}</a>${facts}`;
  });
  if (!root) rows.unshift('<a href="../">../</a>');
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeXml(title)}</title></head>\n<body><h1>${escapeXml(title)}</h1>\n<pre>\n${rows.join('\n')}\n</pre>\n</body></html>\n`;
}
