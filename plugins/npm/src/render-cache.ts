import { createHash } from 'node:crypto';
import type { Packument } from './packument.js';

/** A serialised answer and its strong ETag. */
export interface Rendered {
  readonly bytes: Buffer;
  readonly etag: string;
}

/**
 * Parsing and re-serialising big packuments is most of the cost of serving them (some are
 * tens of megabytes). Two caches avoid doing it per request:
 *
 * - parsed documents of proxied packuments, keyed by the stored bytes' sha256 and the base
 *   URL their tarballs were rewritten to, bounded by the source bytes they came from;
 * - serialised answers (full or abbreviated, per environment tag) hung off the document
 *   object itself, so they live exactly as long as that document is cached.
 *
 * Cached documents are shared: nothing may mutate them after they are cached.
 */
export class PackumentCache {
  private readonly parsed = new Map<string, { doc: Packument; bytes: number }>();
  private readonly rendered = new WeakMap<Packument, Map<string, Rendered>>();
  private totalBytes = 0;

  constructor(private readonly maxBytes = 48 * 1024 * 1024) {}

  getParsed(key: string): Packument | undefined {
    const entry = this.parsed.get(key);
    if (!entry) return undefined;
    // Map order is insertion order: re-insert to mark as recently used.
    this.parsed.delete(key);
    this.parsed.set(key, entry);
    return entry.doc;
  }

  setParsed(key: string, doc: Packument, sourceBytes: number): void {
    if (sourceBytes > this.maxBytes / 4) return;
    const previous = this.parsed.get(key);
    if (previous) this.totalBytes -= previous.bytes;
    this.parsed.set(key, { doc, bytes: sourceBytes });
    this.totalBytes += sourceBytes;
    for (const [k, entry] of this.parsed) {
      if (this.totalBytes <= this.maxBytes) break;
      this.parsed.delete(k);
      this.totalBytes -= entry.bytes;
    }
  }

  /** The serialised answer for `variant` of `doc` and its ETag, produced once. */
  render(doc: Packument, variant: string, produce: () => unknown): Rendered {
    let variants = this.rendered.get(doc);
    if (!variants) {
      variants = new Map();
      this.rendered.set(doc, variants);
    }
    let rendered = variants.get(variant);
    if (!rendered) {
      const bytes = Buffer.from(JSON.stringify(produce()));
      rendered = { bytes, etag: `"${createHash('sha256').update(bytes).digest('hex')}"` };
      variants.set(variant, rendered);
    }
    return rendered;
  }
}
