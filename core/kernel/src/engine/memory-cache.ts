import { buffersEntryCost, ownMemory } from './cache-costs.js';

/**
 * Hot small blobs in memory, least recently used out first, bounded by bytes. Blobs are
 * content-addressed, so a cached copy can never be stale: it is the only bytes its key
 * can name. Serving a hot artifact then costs no storage round trip at all.
 *
 * The budget counts what an entry costs the process (its bytes, its key, the Buffer's and the
 * entry's overhead: see `cache-costs.ts`), not only the blob's bytes: most cached blobs are
 * small (checksums, manifests, small packages) and cost more in overhead than in bytes.
 */
export class BlobMemoryCache {
  /** Blobs, least recently used first, each with the {@link moves} count when it last moved to the end. */
  private readonly entries = new Map<string, { readonly value: Buffer; moved: number }>();
  private bytes = 0;
  /** Entries moved to the end of the order (set, or refreshed by a read) so far. */
  private moves = 0;

  constructor(
    /** Total bytes kept; 0 turns the cache off. */
    readonly maxBytes: number,
    /** Largest blob kept. */
    readonly maxItemBytes: number,
  ) {}

  /** Whether a blob of `size` bytes is worth reading into memory. */
  accepts(size: number): boolean {
    return this.maxBytes > 0 && size <= this.maxItemBytes && size <= this.maxBytes;
  }

  get(key: string): Buffer | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    // Refresh its place (Map iteration order is insertion order), unless it is among the
    // newest quarter already (at most that many moved behind it since): a hot blob read on
    // every request then costs one lookup, not a delete and an insert each time.
    if (this.moves - entry.moved > this.entries.size >> 2) {
      this.entries.delete(key);
      entry.moved = ++this.moves;
      this.entries.set(key, entry);
    }
    return entry.value;
  }

  set(key: string, value: Buffer): void {
    if (!this.accepts(value.length)) return;
    this.delete(key);
    const cost = buffersEntryCost(key, [value]);
    if (cost > this.maxBytes) return;
    this.entries.set(key, { value: ownMemory(value), moved: ++this.moves });
    this.bytes += cost;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= buffersEntryCost(oldest, [entry.value]);
    }
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.bytes -= buffersEntryCost(key, [entry.value]);
  }

  get size(): { readonly entries: number; readonly bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes };
  }

  /** Entries and bytes against the budget, for `/-/stats` (`caches.blobs`). */
  stats(): { readonly entries: number; readonly bytes: number; readonly maxBytes: number } {
    return { entries: this.entries.size, bytes: this.bytes, maxBytes: this.maxBytes };
  }
}
