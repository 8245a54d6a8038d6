/**
 * What an entry of an in-memory cache really costs, so that a budget of N bytes
 * (`server.memoryCacheSize`, `server.derivedCacheSize`) holds about N bytes of the
 * process's memory, not N bytes of payload plus an overhead that can be several times it.
 *
 * Measured on Node 20 (x64) with 200,000 entries in a `Map` and the heap collected
 * (`bench/README.md`, "Soak"): a `Map` entry with an 83-character key costs ~310 bytes of V8
 * heap (the key string, its slot in the table, the table's spare capacity); a `Buffer` held
 * by it ~180 bytes more of V8 heap (the Uint8Array and ArrayBuffer objects) and its backing
 * store's native bookkeeping besides (~100-200 bytes outside the V8 heap); an object
 * wrapping a value ~40-400 bytes. A cached blob of a few hundred bytes so costs two to
 * three times its size: counting only its bytes, a 64 MB budget was ~150 MB of memory.
 */

/** A `Map` entry and the bookkeeping object around its value, beside the key's characters. */
export const ENTRY_OVERHEAD_BYTES = 240;

/** A `Buffer` held: its JS objects and its backing store's native bookkeeping, beside its bytes. */
export const BUFFER_OVERHEAD_BYTES = 320;

/** The characters of a key: V8 keeps a string of Latin-1 characters in one byte each, else two. */
export function keyCost(key: string): number {
  // eslint-disable-next-line no-control-regex
  return /[^\u0000-\u00ff]/.test(key) ? key.length * 2 : key.length;
}

/** What keeping `buffers` under `key` costs: the bytes, the Buffers' and the entry's overhead, the key. */
export function buffersEntryCost(key: string, buffers: readonly Buffer[]): number {
  let cost = ENTRY_OVERHEAD_BYTES + keyCost(key);
  for (const buffer of buffers) cost += buffer.length + BUFFER_OVERHEAD_BYTES;
  return cost;
}

/**
 * `value`, or a copy in memory of its own when it is a view of a larger buffer. Small
 * Buffers (from `Buffer.concat`, `Buffer.from`, ...) are slices of a shared 8 KiB pool slab:
 * kept for hours as they are, each would hold its whole slab alive, many times its size,
 * and a cache's byte budget would count a fraction of what it really holds.
 */
export function ownMemory(value: Buffer): Buffer {
  if (value.byteOffset === 0 && value.byteLength === value.buffer.byteLength) return value;
  const copy = Buffer.allocUnsafeSlow(value.length);
  value.copy(copy);
  return copy;
}
