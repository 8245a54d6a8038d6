import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** sha256 (hex) of some bytes. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Read a (small) stream whole. Only for test objects that are meant to fit in memory. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array));
  }
  return Buffer.concat(chunks);
}

/** A byte stream of `data` cut into chunks of `chunkSize`, yielding to the event loop between them. */
export function slowStream(data: Buffer, chunkSize = 1024): Readable {
  return Readable.from(
    (async function* () {
      for (let offset = 0; offset < data.length; offset += chunkSize) {
        await nextTurn();
        yield data.subarray(offset, offset + chunkSize);
      }
    })(),
    { objectMode: false },
  );
}

/**
 * A stream that sends `data` and then fails with `error` instead of ending: 5 ms after it is
 * asked for more, or once `when` resolves (a failure that must come after something the
 * reader does with the data, however loaded the machine).
 */
export function failingStream(data: Buffer, error: Error, when?: () => Promise<void>): Readable {
  return breakingStream(data, error, when);
}

/** A stream that sends `data` and then is destroyed without an error (a dropped client). */
export function truncatedStream(data: Buffer): Readable {
  return breakingStream(data);
}

/** Sends `data`, then is destroyed (with `error` when given) instead of ending. */
function breakingStream(data: Buffer, error?: Error, when: () => Promise<void> = () => new Promise((resolve) => setTimeout(resolve, 5))): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(data);
        return;
      }
      void when().then(() => this.destroy(error));
    },
  });
}

/** Deterministic pseudo-random bytes (xorshift32), so large objects do not compress. */
export function fillPseudoRandom(target: Buffer, seed: number): number {
  let state = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i + 4 <= target.length; i += 4) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    target.writeUInt32LE(state, i);
  }
  return state;
}

/** `size` deterministic pseudo-random bytes (see {@link fillPseudoRandom}). */
export function pseudoRandomBytes(size: number, seed: number): Buffer {
  const data = Buffer.alloc(size);
  fillPseudoRandom(data, seed);
  return data;
}

let collector: (() => void) | null | undefined;

/**
 * A function that runs a full garbage collection, or `undefined` when the runtime allows
 * none. Uses `globalThis.gc` (node --expose-gc) or enables it at run time the way Jest's
 * leak detector does.
 */
export function garbageCollector(): (() => void) | undefined {
  if (collector === undefined) {
    collector = null;
    const exposed = (globalThis as { gc?: unknown }).gc;
    if (typeof exposed === 'function') {
      collector = exposed as () => void;
    } else {
      try {
        setFlagsFromString('--expose-gc');
        const gc: unknown = runInNewContext('gc');
        if (typeof gc === 'function') collector = gc as () => void;
      } catch {
        collector = null;
      }
    }
  }
  const gc = collector;
  if (gc === null) return undefined;
  // The first pass can leave freed ArrayBuffers to a later sweep; the second settles them.
  return () => {
    gc();
    gc();
  };
}

/**
 * Peak memory growth over a baseline. With a garbage collector each sample first collects,
 * so the peak is what is still referenced, not garbage V8 has not yet got round to.
 */
export class MemoryWatch {
  private readonly gc: (() => void) | undefined;
  private readonly baseRss: number;
  private readonly baseArrayBuffers: number;
  private peakRss: number;
  private peakArrayBuffers: number;

  constructor(options: { collectGarbage?: boolean } = {}) {
    this.gc = options.collectGarbage === false ? undefined : garbageCollector();
    this.gc?.();
    const usage = process.memoryUsage();
    this.baseRss = usage.rss;
    this.baseArrayBuffers = usage.arrayBuffers;
    this.peakRss = usage.rss;
    this.peakArrayBuffers = usage.arrayBuffers;
  }

  /** True when samples are taken after a full garbage collection. */
  get collects(): boolean {
    return this.gc !== undefined;
  }

  sample(): void {
    this.gc?.();
    const usage = process.memoryUsage();
    if (usage.rss > this.peakRss) this.peakRss = usage.rss;
    if (usage.arrayBuffers > this.peakArrayBuffers) this.peakArrayBuffers = usage.arrayBuffers;
  }

  get rssGrowth(): number {
    return this.peakRss - this.baseRss;
  }

  get arrayBuffersGrowth(): number {
    return this.peakArrayBuffers - this.baseArrayBuffers;
  }
}

/**
 * A stream of `totalBytes` pseudo-random bytes made one chunk at a time as it is read, so
 * producing it holds one chunk, never the whole. `onChunk` sees every chunk (for hashing).
 */
export function generatedStream(
  totalBytes: number,
  options: { chunkSize?: number; seed?: number; onChunk?: (chunk: Buffer) => void } = {},
): Readable {
  const chunkSize = options.chunkSize ?? 64 * 1024;
  let seed = options.seed ?? 1;
  let produced = 0;
  return new Readable({
    highWaterMark: chunkSize,
    read() {
      if (produced >= totalBytes) {
        this.push(null);
        return;
      }
      const chunk = Buffer.alloc(Math.min(chunkSize, totalBytes - produced));
      seed = fillPseudoRandom(chunk, seed);
      produced += chunk.length;
      options.onChunk?.(chunk);
      this.push(chunk);
    },
  });
}

/** Drain a stream into a hash without keeping it; resolve its size and sha256. */
export async function hashStream(
  stream: Readable,
  onChunk?: (chunk: Buffer) => void,
): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  await pipeline(
    stream,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        size += chunk.length;
        onChunk?.(chunk);
        callback();
      },
    }),
  );
  return { size, sha256: hash.digest('hex') };
}
