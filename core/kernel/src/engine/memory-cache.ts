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
  private readonly entries = new Map<string, Buffer>();
  private bytes = 0;

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
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    // Refresh its place: Map iteration order is insertion order.
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: string, value: Buffer): void {
    if (!this.accepts(value.length)) return;
    this.delete(key);
    const cost = buffersEntryCost(key, [value]);
    if (cost > this.maxBytes) return;
    this.entries.set(key, ownMemory(value));
    this.bytes += cost;
    for (const [oldest, buffer] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= buffersEntryCost(oldest, [buffer]);
    }
  }

  delete(key: string): void {
    const value = this.entries.get(key);
    if (value === undefined) return;
    this.entries.delete(key);
    this.bytes -= buffersEntryCost(key, [value]);
  }

  get size(): { readonly entries: number; readonly bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes };
  }

  /** Entries and bytes against the budget, for `/-/stats` (`caches.blobs`). */
  stats(): { readonly entries: number; readonly bytes: number; readonly maxBytes: number } {
    return { entries: this.entries.size, bytes: this.bytes, maxBytes: this.maxBytes };
  }
}
