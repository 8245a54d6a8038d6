import { createHash } from 'node:crypto';
import type { Packument } from './packument.js';

/** A serialised answer and its strong ETag. */
export interface Rendered {
  readonly bytes: Buffer;
  readonly etag: string;
}

/** A map used as a least-recently-used cache, bounded by the bytes its entries account for. */
class ByteLru<V> {
  private readonly entries = new Map<string, { value: V; bytes: number }>();
  private total = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    // Map order is insertion order: re-insert to mark as recently used.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Store `value`; one entry over half the budget is not kept. Resolves whether it was. */
  set(key: string, value: V, bytes: number): boolean {
    if (bytes > this.maxBytes / 2) return false;
    const previous = this.entries.get(key);
    if (previous) {
      this.total -= previous.bytes;
      this.entries.delete(key);
    }
    this.entries.set(key, { value, bytes });
    this.total += bytes;
    for (const [k, entry] of this.entries) {
      if (this.total <= this.maxBytes) break;
      this.entries.delete(k);
      this.total -= entry.bytes;
    }
    return true;
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.total;
  }
}

/**
 * Parsing and re-serialising big packuments is most of the cost of serving them (some are
 * tens of megabytes). Two byte-bounded LRU caches avoid doing it per request:
 *
 * - parsed proxied documents, keyed by the stored bytes' sha256 and the base URL their
 *   tarballs were rewritten to, accounted by the size of the bytes they came from;
 * - serialised answers with their ETag, keyed by the document (a stable key such as a
 *   hosted document's revision, or a parsed document of the first cache) and the variant
 *   (full or abbreviated, and the `latest` an environment tag resolved to), accounted by
 *   their exact size. The variant names the resolved version, not the header as sent, so
 *   arbitrary header values cannot multiply the entries.
 *
 * Cached documents are shared between requests: nothing may mutate them once cached.
 */
export class PackumentCache {
  private readonly parsed: ByteLru<Packument>;
  private readonly rendered: ByteLru<Rendered>;
  /** Ids of documents held by the parsed cache, so answers rendered from them can be kept. */
  private readonly sharedIds = new WeakMap<Packument, number>();
  private nextId = 1;

  constructor(maxBytes = 48 * 1024 * 1024) {
    this.parsed = new ByteLru(Math.floor(maxBytes / 2));
    this.rendered = new ByteLru(Math.floor(maxBytes / 2));
  }

  getParsed(key: string): Packument | undefined {
    return this.parsed.get(key);
  }

  /** Keep a parsed document; from now on it is shared and must not be mutated. */
  setParsed(key: string, doc: Packument, sourceBytes: number): void {
    if (this.parsed.set(key, doc, sourceBytes) && !this.sharedIds.has(doc)) this.sharedIds.set(doc, this.nextId++);
  }

  /**
   * The serialised answer for `variant` of `doc` and its ETag. Kept when the document has
   * a stable `key` or is one the parsed cache holds; produced afresh otherwise.
   */
  render(doc: Packument, variant: string, produce: () => unknown, key?: string): Rendered {
    const sharedId = this.sharedIds.get(doc);
    const docKey = key ?? (sharedId === undefined ? undefined : `shared#${sharedId}`);
    const cacheKey = docKey === undefined ? undefined : `${docKey}\u0000${variant}`;
    const hit = cacheKey === undefined ? undefined : this.rendered.get(cacheKey);
    if (hit) return hit;
    const bytes = Buffer.from(JSON.stringify(produce()));
    const rendered = { bytes, etag: `"${createHash('sha256').update(bytes).digest('hex')}"` };
    if (cacheKey !== undefined) this.rendered.set(cacheKey, rendered, bytes.length + cacheKey.length);
    return rendered;
  }

  /** Entries and bytes held, for tests and diagnostics. */
  stats(): { parsed: number; parsedBytes: number; rendered: number; renderedBytes: number } {
    return { parsed: this.parsed.size, parsedBytes: this.parsed.bytes, rendered: this.rendered.size, renderedBytes: this.rendered.bytes };
  }
}
