import { createHash } from 'node:crypto';
import type { DerivedCache, RenderedJson } from '@registry-core/api';
import { ENTRY_OVERHEAD_BYTES, buffersEntryCost, keyCost, ownMemory } from './cache-costs.js';
import { renderJsonYielding } from './yielding-stringify.js';
import type { DerivedDisk, DerivedDiskStats } from './derived-disk.js';

/** A kept rendering's object, its list of chunks and its ETag string's header, beside the entry's. */
const RENDERED_OVERHEAD_BYTES = 160;

/**
 * The share of the budget values may take (see {@link DerivedMemory}). A parsed document is
 * used again mostly within the same install (npm 11 reads a package's full document, and the
 * abbreviated rendering is made from the same parse); after that the renderings answer. Kept
 * longer, a few hundred parsed documents were most of V8's live old generation after a cold
 * install, which V8 lets grow by `server.heapGrowthPercent` before collecting.
 * Measured with the bench's cold and then warm `npm install` (server peak): 282–305 MB in four
 * runs without a share (values could take the whole budget), 269–284 MB in four with a
 * quarter (90 more parses in the cold install: 732 against 642); later, with the young
 * generation capped and a heap growing factor of 1.5, 222 and 231 MB with a quarter, 214 and
 * 219 MB with an eighth.
 */
const VALUES_SHARE = 0.125;

/** What `/-/stats` shows of the derived memory (`derived`). */
export interface DerivedMemoryStats {
  readonly entries: number;
  readonly bytes: number;
  /** Of {@link bytes}, the values' (parsed documents, indexes), at most an eighth of {@link maxBytes}. */
  readonly valueBytes: number;
  readonly maxBytes: number;
  readonly hits: number;
  readonly misses: number;
  readonly renders: number;
  readonly renderYields: number;
  /** The renderings kept in files past the memory (`server.derivedDiskSize`); absent when off. */
  readonly disk?: DerivedDiskStats;
}

/**
 * The memory every repository's {@link DerivedCache} shares: least-recently-used maps (values
 * and renderings) bounded together by the bytes their entries account for. Keys carry the identity of what a value is
 * derived from, so entries never go stale; they only age out.
 *
 * An entry's account is what it costs the process: the bytes its owner names for a value
 * (`set`) or a rendering's chunks (`renderJson`), plus its key and the overhead of the entry
 * and of each Buffer kept (see `cache-costs.ts`). A kept rendering holds chunks of its own:
 * small chunks are views of Node's shared 8 KiB pool slabs, and kept as they were each would
 * hold a whole slab.
 *
 * Past the budget, values (`set`: a parsed upstream document, an index) go before renderings,
 * each kind least recently used first; values also go past an eighth of the budget. A rendering answers a request with no other work; a
 * value is only what renderings and lookups are made from, larger (a parsed packument costs
 * 1.5 times its JSON text, its abbreviated rendering a fraction of it) and made again from
 * stored bytes. In one LRU the parsed documents of an install's few hundred packages pushed
 * out the renderings a second install asks for, and every read parsed and rendered again.
 */
export class DerivedMemory {
  /** Values kept with `set`, least recently used first. */
  private readonly values = new Map<string, Entry>();
  /** Bytes the values account for (part of {@link total}), at most {@link VALUES_SHARE} of the budget. */
  private valueBytes = 0;
  /** Renderings (`renderJson`, `renderText`), least recently used first. */
  private readonly renderings = new Map<string, Entry>();
  /** The key kept under each slot (see {@link DerivedCache}): one value per slot, in memory or on disk. */
  private readonly slots = new Map<string, string>();
  /** The slot of each key kept under one (the reverse of {@link slots}). */
  private readonly slotOf = new Map<string, string>();
  private total = 0;
  /** Renderings under way, by key: concurrent requests for one answer share one. */
  private readonly rendering = new Map<string, Promise<RenderedJson>>();
  hits = 0;
  misses = 0;
  /** Answers rendered by {@link DerivedCache.renderJson}, and the times their renderings gave the event loop back. */
  renders = 0;
  renderYields = 0;

  constructor(
    private readonly maxBytes: number,
    /** Where renderings go when the memory lets them go, read back on a miss (see {@link DerivedDisk}). */
    private readonly disk?: DerivedDisk,
  ) {
    if (disk) {
      disk.onForget = (key) => {
        if (!this.values.has(key) && !this.renderings.has(key)) this.unslot(key);
      };
    }
  }

  /** The cache of one repository: its keys live apart from every other repository's. */
  forRepository(repository: string): DerivedCache {
    const prefix = `${repository}\u0000`;
    return {
      get: <T>(key: string) => this.get(prefix + key) as T | undefined,
      set: <T>(key: string, value: T, bytes: number, slot?: string) => this.set(prefix + key, value, bytes, slot === undefined ? undefined : prefix + slot),
      renderJson: (key: string | undefined, produce: () => unknown, slot?: string) => this.renderJson(key === undefined ? undefined : prefix + key, produce, slot === undefined ? undefined : prefix + slot),
      renderText: (key: string | undefined, produce: () => string | Promise<string>, slot?: string) => this.renderText(key === undefined ? undefined : prefix + key, produce, slot === undefined ? undefined : prefix + slot),
    };
  }

  /** {@link DerivedCache.renderJson}: kept, shared while under way, else rendered yieldingly. */
  private renderJson(key: string | undefined, produce: () => unknown, slot?: string): Promise<RenderedJson> {
    return this.rendered(key, slot, async () => {
      const value = await produce();
      this.renders++;
      return renderJsonYielding(value, { onYield: () => this.renderYields++ });
    });
  }

  /** {@link DerivedCache.renderText}: kept, shared while under way, else produced and hashed. */
  private renderText(key: string | undefined, produce: () => string | Promise<string>, slot?: string): Promise<RenderedJson> {
    return this.rendered(key, slot, async () => {
      const bytes = Buffer.from(await produce(), 'utf8');
      this.renders++;
      return { chunks: [bytes], size: bytes.length, etag: `"${createHash('sha256').update(bytes).digest('hex')}"` };
    });
  }

  /** A rendering kept under `key`, or the one under way for it, else `render`'s, kept (not when `key` is undefined). */
  private rendered(key: string | undefined, slot: string | undefined, render: () => Promise<RenderedJson>): Promise<RenderedJson> {
    if (key === undefined) return render();
    const kept = this.get(key) as RenderedJson | undefined;
    if (kept) return Promise.resolve(kept);
    const under = this.rendering.get(key);
    if (under) return under;
    const rendering = (async () => {
      try {
        const rendered = (this.disk?.has(key) ? await this.disk.read(key) : undefined) ?? (await render());
        const own: RenderedJson = { chunks: rendered.chunks.map(ownMemory), size: rendered.size, etag: rendered.etag };
        this.keep(this.renderings, key, own, buffersEntryCost(key, own.chunks) + RENDERED_OVERHEAD_BYTES + own.etag.length, slot);
        return own;
      } finally {
        this.rendering.delete(key);
      }
    })();
    this.rendering.set(key, rendering);
    return rendering;
  }

  private get(key: string): unknown {
    const map = this.values.has(key) ? this.values : this.renderings;
    const entry = map.get(key);
    if (!entry) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    // Map order is insertion order: re-insert to mark as recently used.
    map.delete(key);
    map.set(key, entry);
    return entry.value;
  }

  private set(key: string, value: unknown, bytes: number, slot?: string): void {
    this.keep(this.values, key, value, Math.max(0, bytes) + ENTRY_OVERHEAD_BYTES + keyCost(key), slot);
  }

  /**
   * Keep `value` under `key` in `map` (values or renderings), accounted as `size` (its whole
   * cost), evicting past the budget (values first, then renderings, each least recently used
   * first); under `slot`, the value kept before under it is dropped (replaced).
   */
  private keep(map: Map<string, Entry>, key: string, value: unknown, size: number, slot?: string): void {
    if (slot !== undefined) {
      const replaced = this.slots.get(slot);
      if (replaced !== undefined && replaced !== key) this.drop(replaced);
    }
    const cost = slot === undefined ? size : size + ENTRY_OVERHEAD_BYTES + keyCost(slot);
    if (cost > this.maxBytes / 8) {
      // Too large for the memory: a rendering goes to the disk at once (a popular package's
      // full packument is several megabytes), a value is not kept.
      if (map === this.renderings && this.disk?.keep(key, value as RenderedJson) && slot !== undefined) {
        this.slots.set(slot, key);
        this.slotOf.set(key, slot);
      }
      return;
    }
    this.remove(key);
    map.set(key, { value, bytes: cost });
    if (slot !== undefined) {
      this.slots.set(slot, key);
      this.slotOf.set(key, slot);
    }
    this.total += cost;
    if (map === this.values) {
      this.valueBytes += cost;
      // The one just kept is the most recently used: it stays (it is under an eighth of the budget).
      for (const [k] of this.values) {
        if (this.valueBytes <= this.maxBytes * VALUES_SHARE) break;
        this.drop(k);
      }
    }
    for (const [k] of this.values) {
      if (this.total <= this.maxBytes) return;
      this.drop(k);
    }
    for (const [k] of this.renderings) {
      if (this.total <= this.maxBytes) return;
      this.letGo(k);
    }
  }

  /** Remove `key` from memory only; what it held, if anything. */
  private remove(key: string): Entry | undefined {
    const map = this.values.has(key) ? this.values : this.renderings;
    const entry = map.get(key);
    if (!entry) return undefined;
    map.delete(key);
    this.total -= entry.bytes;
    if (map === this.values) this.valueBytes -= entry.bytes;
    return entry;
  }

  /** Forget `key` everywhere (memory, disk, its slot): a newer value replaced it, or a value aged out. */
  private drop(key: string): void {
    this.remove(key);
    this.disk?.drop(key);
    this.unslot(key);
  }

  /** A rendering out of memory, past the budget: to the disk when there is one (its slot stays), else forgotten. */
  private letGo(key: string): void {
    const entry = this.remove(key);
    if (!entry || !this.disk?.keep(key, entry.value as RenderedJson)) this.unslot(key);
  }

  private unslot(key: string): void {
    const slot = this.slotOf.get(key);
    if (slot === undefined) return;
    this.slotOf.delete(key);
    if (this.slots.get(slot) === key) this.slots.delete(slot);
  }

  /** Remove the disk's files: the process is stopping. */
  async close(): Promise<void> {
    await this.disk?.close();
  }

  /** Entries, bytes, hit counts and renderings, for `/-/stats`. */
  stats(): DerivedMemoryStats {
    return { entries: this.values.size + this.renderings.size, bytes: this.total, valueBytes: this.valueBytes, maxBytes: this.maxBytes, hits: this.hits, misses: this.misses, renders: this.renders, renderYields: this.renderYields, ...(this.disk ? { disk: this.disk.stats() } : {}) };
  }
}

interface Entry {
  readonly value: unknown;
  readonly bytes: number;
}
