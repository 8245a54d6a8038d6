import type { DerivedCache, RenderedJson } from '@registry-core/api';
import type { Packument } from './packument.js';

/**
 * Parsing and re-serialising big packuments is most of the cost of serving them (some are
 * tens of megabytes), so both are kept in the kernel's memory of derived values
 * (`RepositoryHandle.derived`, bounded and shared by every repository):
 *
 * - a proxy's parsed upstream document, keyed by the stored bytes' sha256, the name and the
 *   base URL its tarballs were rewritten to, accounted by the size of those bytes;
 * - serialised answers with their ETag (rendered by the kernel without holding the event
 *   loop: `DerivedCache.renderJson`), keyed by the document's revision (a hosted
 *   document's, a cached upstream file's, or a group's merge of those) and the variant (full
 *   or abbreviated, and the `latest` an environment tag resolved to), accounted by their
 *   size. The variant names the resolved version, not the header as sent, so arbitrary
 *   header values cannot multiply the entries.
 *
 * Keys carry the identity of what they derive from, so nothing kept is ever stale. Cached
 * documents are shared between requests: nothing may mutate them once kept.
 */
export function parsedUpstream(derived: DerivedCache, key: string): Packument | undefined {
  return derived.get<Packument>(`npm:parsed\u0000${key}`);
}

/** Keep a parsed upstream document; from now on it is shared and must not be mutated. */
export function keepParsedUpstream(derived: DerivedCache, key: string, doc: Packument, sourceBytes: number): void {
  derived.set(`npm:parsed\u0000${key}`, doc, sourceBytes);
}

/**
 * The serialised answer for `variant` of a document and its ETag: kept when the document has
 * a `revision`, produced afresh otherwise.
 */
export function renderPackument(derived: DerivedCache, variant: string, produce: () => unknown, revision?: string): Promise<RenderedJson> {
  return derived.renderJson(revision === undefined ? undefined : `npm:rendered\u0000${revision}\u0000${variant}`, produce);
}
