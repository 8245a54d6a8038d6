/**
 * Hot small blobs in memory, least recently used out first, bounded by bytes. Blobs are
 * content-addressed, so a cached copy can never be stale: it is the only bytes its key
 * can name. Serving a hot artifact then costs no storage round trip at all.
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
    this.entries.set(key, ownMemory(value));
    this.bytes += value.length;
    for (const [oldest, buffer] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= buffer.length;
    }
  }

  delete(key: string): void {
    const value = this.entries.get(key);
    if (value === undefined) return;
    this.entries.delete(key);
    this.bytes -= value.length;
  }

  get size(): { readonly entries: number; readonly bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes };
  }
}

/**
 * `value`, or a copy in memory of its own when it is a view of a larger buffer. Small
 * Buffers (from `Buffer.concat`, `Buffer.from`, ...) are slices of a shared 8 KiB pool slab:
 * kept for hours as they are, each would hold its whole slab alive, many times its size,
 * and the cache's byte budget would count a fraction of what it really holds.
 */
function ownMemory(value: Buffer): Buffer {
  if (value.byteOffset === 0 && value.byteLength === value.buffer.byteLength) return value;
  const copy = Buffer.allocUnsafeSlow(value.length);
  value.copy(copy);
  return copy;
}
