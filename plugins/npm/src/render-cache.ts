import type { DerivedCache, RenderedJson } from '@registry-core/api';
import type { Packument } from './packument.js';

/**
 * Parsing and re-serialising big packuments is most of the cost of serving them (some are
 * tens of megabytes), so both are kept in the kernel's memory of derived values
 * (`RepositoryHandle.derived`, bounded and shared by every repository):
 *
 * - a proxy's parsed upstream document, keyed by the stored bytes' sha256, the name and the
 *   base URL its tarballs were rewritten to, accounted by what it costs in memory (1.5x those bytes);
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

/**
 * What a parsed packument costs in memory for each byte of its JSON text: measured with
 * Node 20, 1.3x (3 versions) to 1.45x (500 versions); more for documents with more distinct
 * strings. The derived memory's budget is of real memory, so the document is accounted at this.
 */
const PARSED_COST_PER_BYTE = 1.5;

/**
 * Keep a parsed upstream document; from now on it is shared and must not be mutated. It
 * replaces the one kept before for the same name and base URL (`slot`: an older copy).
 */
export function keepParsedUpstream(derived: DerivedCache, key: string, doc: Packument, sourceBytes: number, slot: string): void {
  derived.set(`npm:parsed\u0000${key}`, doc, Math.ceil(sourceBytes * PARSED_COST_PER_BYTE), `npm:parsed\u0000${slot}`);
}

/**
 * The serialised answer for `variant` of a document and its ETag: kept when the document has
 * a `revision`, produced afresh otherwise. `slot` names the answer without its revision (the
 * package, the base URL, full or abbreviated, the dist-tag served as `latest`): a rendering of
 * a newer revision replaces the older one's (a package published to all day would otherwise
 * leave one rendering per version until they aged out).
 */
export function renderPackument(derived: DerivedCache, variant: string, produce: () => unknown, revision: string | undefined, slot: string): Promise<RenderedJson> {
  return derived.renderJson(revision === undefined ? undefined : `npm:rendered\u0000${revision}\u0000${variant}`, produce, `npm:rendered\u0000${slot}`);
}
