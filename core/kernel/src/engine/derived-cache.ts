import type { DerivedCache, RenderedJson } from '@registry-core/api';
import { renderJsonYielding } from './yielding-stringify.js';

/** What `/-/stats` shows of the derived memory (`derived`). */
export interface DerivedMemoryStats {
  readonly entries: number;
  readonly bytes: number;
  readonly maxBytes: number;
  readonly hits: number;
  readonly misses: number;
  readonly renders: number;
  readonly renderYields: number;
}

/**
 * The memory every repository's {@link DerivedCache} shares: one least-recently-used map
 * bounded by the bytes its entries account for. Keys carry the identity of what a value is
 * derived from, so entries never go stale; they only age out.
 */
export class DerivedMemory {
  private readonly entries = new Map<string, { value: unknown; bytes: number }>();
  private total = 0;
  /** Renderings under way, by key: concurrent requests for one answer share one. */
  private readonly rendering = new Map<string, Promise<RenderedJson>>();
  hits = 0;
  misses = 0;
  /** Answers rendered by {@link DerivedCache.renderJson}, and the times their renderings gave the event loop back. */
  renders = 0;
  renderYields = 0;

  constructor(private readonly maxBytes: number) {}

  /** The cache of one repository: its keys live apart from every other repository's. */
  forRepository(repository: string): DerivedCache {
    const prefix = `${repository}\u0000`;
    return {
      get: <T>(key: string) => this.get(prefix + key) as T | undefined,
      set: <T>(key: string, value: T, bytes: number) => this.set(prefix + key, value, bytes),
      renderJson: (key: string | undefined, produce: () => unknown) => this.renderJson(key === undefined ? undefined : prefix + key, produce),
    };
  }

  /** {@link DerivedCache.renderJson}: kept, shared while under way, else rendered yieldingly. */
  private renderJson(key: string | undefined, produce: () => unknown): Promise<RenderedJson> {
    const render = async (): Promise<RenderedJson> => {
      const value = await produce();
      this.renders++;
      return renderJsonYielding(value, { onYield: () => this.renderYields++ });
    };
    if (key === undefined) return render();
    const kept = this.get(key) as RenderedJson | undefined;
    if (kept) return Promise.resolve(kept);
    const under = this.rendering.get(key);
    if (under) return under;
    const rendering = (async () => {
      try {
        const rendered = await render();
        this.set(key, rendered, rendered.size);
        return rendered;
      } finally {
        this.rendering.delete(key);
      }
    })();
    this.rendering.set(key, rendering);
    return rendering;
  }

  private get(key: string): unknown {
    const entry = this.entries.get(key);
    if (!entry) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    // Map order is insertion order: re-insert to mark as recently used.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  private set(key: string, value: unknown, bytes: number): void {
    const size = Math.max(0, bytes) + key.length;
    if (size > this.maxBytes / 8) return;
    const previous = this.entries.get(key);
    if (previous) {
      this.total -= previous.bytes;
      this.entries.delete(key);
    }
    this.entries.set(key, { value, bytes: size });
    this.total += size;
    for (const [k, entry] of this.entries) {
      if (this.total <= this.maxBytes) break;
      this.entries.delete(k);
      this.total -= entry.bytes;
    }
  }

  /** Entries, bytes, hit counts and renderings, for `/-/stats`. */
  stats(): DerivedMemoryStats {
    return { entries: this.entries.size, bytes: this.total, maxBytes: this.maxBytes, hits: this.hits, misses: this.misses, renders: this.renders, renderYields: this.renderYields };
  }
}
