import { ServiceUnavailableError } from '@registry-core/api';
import { parseJsonYielding } from './yielding-json.js';

/** What `/-/stats` shows of the metadata memory. */
export interface MetadataMemoryStats {
  readonly capacityBytes: number;
  readonly inUseBytes: number;
  readonly peakBytes: number;
  /** Reads waiting for memory now. */
  readonly waiting: number;
  /** Reads that got their memory only after waiting. */
  readonly waited: number;
  /** Reads refused: the wait ran out, or the document was larger than all of it. */
  readonly refused: number;
  /** JSON documents parsed, and the times their parses gave the event loop back. */
  readonly parses: number;
  readonly yields: number;
}

interface Waiter {
  readonly bytes: number;
  readonly grant: () => void;
}

/**
 * The memory every request's metadata documents (an upstream's packument, index, tag list)
 * take while they are read and parsed, shared by the whole process: a read takes the
 * document's size times {@link COST_FACTOR} (the bytes, and what parsing them builds),
 * waits its turn (first come, first served) at most `waitMs`, and gives it back when
 * the parse is done. So a few hostile documents cannot take gigabytes at once: the
 * requests past the budget wait, then fail with a 503 the format answers in its own shape.
 */
export class MetadataMemory {
  /** Memory a document of N bytes is charged while read and parsed: the bytes and the values built from them. */
  static readonly COST_FACTOR = 3;
  private inUse = 0;
  private peak = 0;
  private waited = 0;
  private refused = 0;
  private parses = 0;
  private yields = 0;
  private readonly queue: Waiter[] = [];

  constructor(
    /** Bytes in all; 0: no budget (reads are never held back). */
    readonly capacity: number,
    private readonly waitMs = 10_000,
  ) {}

  /** The charge of a document of `size` bytes. */
  static cost(size: number): number {
    return size * MetadataMemory.COST_FACTOR;
  }

  /** Take `bytes` of the budget, waiting for it at most `waitMs`; resolves the release (call it once). */
  async acquire(bytes: number, what: string): Promise<() => void> {
    if (this.capacity <= 0) return () => undefined;
    if (bytes > this.capacity) {
      this.refused++;
      throw new ServiceUnavailableError(
        `${what} needs ${bytes} bytes of metadata memory, more than all of it (server.metadataMemory, ${this.capacity})`,
        'METADATA_MEMORY_BUSY',
      );
    }
    if (this.queue.length === 0 && this.inUse + bytes <= this.capacity) return this.take(bytes);
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        bytes,
        grant: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const at = this.queue.indexOf(waiter);
        if (at !== -1) this.queue.splice(at, 1);
        this.refused++;
        // Whoever waited behind it may fit now.
        this.grantWaiting();
        reject(
          new ServiceUnavailableError(
            `the server's metadata memory (server.metadataMemory) is taken by other requests; ${what} waited ${Math.round(this.waitMs / 1000)} s`,
            'METADATA_MEMORY_BUSY',
            5,
          ),
        );
      }, this.waitMs);
      timer.unref?.();
      this.queue.push(waiter);
    });
    this.waited++;
    return this.take(bytes, true);
  }

  /** Read-and-parse of a JSON document of `bytes`, under the budget and yielding to the event loop. */
  async parseJson<T>(size: number, what: string, read: () => Promise<Buffer>): Promise<T> {
    const release = await this.acquire(MetadataMemory.cost(size), what);
    try {
      const bytes = await read();
      this.parses++;
      return (await parseJsonYielding(bytes, { onYield: () => this.yields++ })) as T;
    } finally {
      release();
    }
  }

  /** Run `use` on the bytes `read` resolves, under the budget. */
  async withBytes<T>(size: number, what: string, read: () => Promise<Buffer>, use: (bytes: Buffer) => T | Promise<T>): Promise<T> {
    const release = await this.acquire(MetadataMemory.cost(size), what);
    try {
      return await use(await read());
    } finally {
      release();
    }
  }

  stats(): MetadataMemoryStats {
    return {
      capacityBytes: this.capacity,
      inUseBytes: this.inUse,
      peakBytes: this.peak,
      waiting: this.queue.length,
      waited: this.waited,
      refused: this.refused,
      parses: this.parses,
      yields: this.yields,
    };
  }

  /** `granted`: the bytes were already counted in by {@link grantWaiting}. */
  private take(bytes: number, granted = false): () => void {
    if (!granted) this.inUse += bytes;
    this.peak = Math.max(this.peak, this.inUse);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inUse -= bytes;
      this.grantWaiting();
    };
  }

  /** Let waiters in, in order, while the first of them fits. */
  private grantWaiting(): void {
    while (this.queue.length > 0 && this.inUse + this.queue[0]!.bytes <= this.capacity) {
      const next = this.queue.shift()!;
      this.inUse += next.bytes;
      next.grant();
    }
  }
}
