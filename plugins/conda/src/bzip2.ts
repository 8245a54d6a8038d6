// A streaming bzip2 encoder, written for this project from the format's description (no npm
// encoder was fit to ship: GPL or CC-SA licences, decode-only, or a WebAssembly build that
// installs process-wide exception handlers).
//
// The format, per block of at most 100,000 × level bytes (after the first run-length stage):
//   1. RLE1: a run of 4 to 255 equal bytes is written as 4 of them and a count byte (0-251);
//   2. the Burrows–Wheeler transform: the last column of the block's sorted rotations, and the
//      row of the unrotated block (here sorted by prefix doubling, O(n log n) whatever the
//      input: a block of one byte, or of a short pattern repeated, costs log n passes);
//   3. move-to-front over the bytes the block uses, zero runs written in bijective base 2
//      (RUNA, RUNB), an end-of-block symbol;
//   4. 2 to 6 Huffman tables (code lengths at most 17), one chosen per group of 50 symbols
//      (the selectors, themselves move-to-front coded, in unary);
//   5. the block's CRC (CRC-32, MSB first, of its bytes before RLE1); the stream ends with a
//      CRC combined from the blocks' and is padded to a byte.
// Memory: one block and its work arrays (under 30 bytes per block byte: below 27 MB at level
// 9), whatever the input.
import { existsSync } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Worker, type MessagePort } from 'node:worker_threads';

const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    table[i] = c;
  }
  return table;
})();

const GROUP_SIZE = 50;
const MAX_CODE_LENGTH = 17;
const REFINE_PASSES = 4;
const RUNA = 0;
const RUNB = 1;

/** Bits, most significant first, into a growing byte buffer. */
class BitWriter {
  private buffer: Uint8Array;
  private length = 0;
  private acc = 0;
  private bits = 0;

  constructor(capacity: number) {
    this.buffer = new Uint8Array(capacity);
  }

  /** `count` (at most 24) low bits of `value`. */
  write(count: number, value: number): void {
    this.acc = (this.acc << count) | (value & ((1 << count) - 1));
    this.bits += count;
    while (this.bits >= 8) {
      this.bits -= 8;
      if (this.length === this.buffer.length) this.grow();
      this.buffer[this.length++] = (this.acc >>> this.bits) & 0xff;
    }
    this.acc &= (1 << this.bits) - 1;
  }

  write32(value: number): void {
    this.write(16, value >>> 16);
    this.write(16, value & 0xffff);
  }

  /** The whole bytes written so far (the partial last byte stays). */
  take(): Buffer {
    const out = Buffer.from(this.buffer.subarray(0, this.length));
    this.length = 0;
    return out;
  }

  /** Pads the last byte with zero bits. */
  pad(): void {
    if (this.bits > 0) this.write(8 - this.bits, 0);
  }

  private grow(): void {
    const bigger = new Uint8Array(this.buffer.length * 2);
    bigger.set(this.buffer);
    this.buffer = bigger;
  }
}

/**
 * The sorted order of the cyclic rotations of `block[0..n)`, by prefix doubling: ranks by the
 * first four bytes, then each pass sorts by (rank of i, rank of i+k) in one bucket pass and
 * doubles k, until every rank differs or k reaches n (what stays tied then are equal
 * rotations: a periodic block, whose ties do not change the transform's output).
 */
function sortRotations(block: Uint8Array, n: number, arrays: WorkArrays): Int32Array {
  let { sa, ordered } = arrays;
  const { rank, next } = arrays;
  // First by the first four bytes (a 32-bit key; two stable 16-bit counting passes).
  const keys = next;
  for (let i = 0; i < n; i++) {
    keys[i] = n >= 4 && i + 3 < n ? (block[i]! << 24) | (block[i + 1]! << 16) | (block[i + 2]! << 8) | block[i + 3]! : (block[i % n]! << 24) | (block[(i + 1) % n]! << 16) | (block[(i + 2) % n]! << 8) | block[(i + 3) % n]!;
  }
  const counts = new Int32Array(65537);
  for (let i = 0; i < n; i++) counts[(keys[i]! & 0xffff) + 1]!++;
  for (let v = 1; v <= 65536; v++) counts[v]! += counts[v - 1]!;
  for (let i = 0; i < n; i++) ordered[counts[keys[i]! & 0xffff]!++] = i;
  counts.fill(0);
  for (let i = 0; i < n; i++) counts[(keys[i]! >>> 16) + 1]!++;
  for (let v = 1; v <= 65536; v++) counts[v]! += counts[v - 1]!;
  for (let j = 0; j < n; j++) {
    const i = ordered[j]!;
    sa[counts[keys[i]! >>> 16]!++] = i;
  }
  // rank[i]: the index in sa where i's group starts, so a group's next free slot is a cursor from it.
  for (let j = 0, start = 0; j < n; j++) {
    if (j > 0 && keys[sa[j]!] !== keys[sa[j - 1]!]) start = j;
    rank[sa[j]!] = start;
  }
  let k = 4;
  let tied = unsortedCount(sa, rank, n);
  // While most rotations are still tied: whole passes of the bucket doubling, O(n) each.
  for (; k < n && tied * 3 >= n; k *= 2) {
    // Walking sa in order visits i+k sorted by its rank; i goes to the next free slot of its group.
    for (let j = 0; j < n; j++) next[j] = j;
    for (let j = 0; j < n; j++) {
      let i = sa[j]! - k;
      if (i < 0) i += n;
      ordered[next[rank[i]!]!++] = i;
    }
    // New ranks: a group starts where the (rank of i, rank of i+k) pair changes.
    let start = 0;
    let prevFirst = -1;
    let prevSecond = -1;
    tied = n;
    for (let j = 0; j < n; j++) {
      const i = ordered[j]!;
      const first = rank[i]!;
      let ik = i + k;
      if (ik >= n) ik -= n;
      const second = rank[ik]!;
      if (first !== prevFirst || second !== prevSecond) {
        if (j - start === 1) tied--; // the group before was one rotation alone
        start = j;
        prevFirst = first;
        prevSecond = second;
      }
      next[j] = start;
    }
    if (n - start === 1) tied--;
    for (let j = 0; j < n; j++) rank[ordered[j]!] = next[j]!;
    [sa, ordered] = [ordered, sa];
  }
  if (k >= n) return sa;
  // Then only the groups still tied, each sorted by the rank of i+k (ranks refined within a
  // pass stay consistent with the order, as in Larsson and Sadakane's qsufsort).
  let groups = tiedGroups(sa, rank, n);
  for (; groups.length > 0 && k < n; k *= 2) {
    const still: number[] = [];
    for (let g = 0; g < groups.length; g += 2) {
      const start = groups[g]!;
      const end = start + groups[g + 1]!;
      const keys = new Float64Array(end - start);
      let same = true;
      let firstKey = -1;
      for (let j = start; j < end; j++) {
        const i = sa[j]!;
        let ik = i + k;
        if (ik >= n) ik -= n;
        const key = rank[ik]!;
        if (j === start) firstKey = key;
        else if (key !== firstKey) same = false;
        keys[j - start] = key * INDEX_SPAN + i;
      }
      if (same) {
        still.push(start, end - start);
        continue;
      }
      keys.sort();
      let runStart = start;
      let runKey = -1;
      for (let j = start; j < end; j++) {
        const packed = keys[j - start]!;
        const key = Math.floor(packed / INDEX_SPAN);
        sa[j] = packed - key * INDEX_SPAN;
        if (key !== runKey) {
          if (j - runStart > 1) still.push(runStart, j - runStart);
          runStart = j;
          runKey = key;
        }
      }
      if (end - runStart > 1) still.push(runStart, end - runStart);
      runStart = start;
      runKey = Math.floor(keys[0]! / INDEX_SPAN);
      for (let j = start; j < end; j++) {
        const key = Math.floor(keys[j - start]! / INDEX_SPAN);
        if (key !== runKey) {
          runStart = j;
          runKey = key;
        }
        rank[sa[j]!] = runStart;
      }
    }
    groups = still;
  }
  return sa;
}

/** Packs a rank and a rotation (both below 2^20) into one exactly sortable number. */
const INDEX_SPAN = 1 << 20;

/** How many rotations still share their group with another. */
function unsortedCount(sa: Int32Array, rank: Int32Array, n: number): number {
  let count = 0;
  for (let j = 0; j < n; j++) if ((j > 0 && rank[sa[j]!] === rank[sa[j - 1]!]) || (j + 1 < n && rank[sa[j]!] === rank[sa[j + 1]!])) count++;
  return count;
}

/** The groups of tied rotations, as (start, length) pairs. */
function tiedGroups(sa: Int32Array, rank: Int32Array, n: number): number[] {
  const groups: number[] = [];
  for (let j = 0; j < n; ) {
    let end = j + 1;
    while (end < n && rank[sa[end]!] === rank[sa[j]!]) end++;
    if (end - j > 1) groups.push(j, end - j);
    j = end;
  }
  return groups;
}

/** Code lengths (1..maxLength) for `alphaSize` symbols of these frequencies (0 counts as 1). Exported for its tests. */
export function codeLengths(freq: ArrayLike<number>, alphaSize: number, maxLength: number, out: Uint8Array): void {
  const weight = new Float64Array(alphaSize);
  for (let s = 0; s < alphaSize; s++) weight[s] = Math.max(1, freq[s]!);
  for (;;) {
    // Huffman by repeatedly joining the two lightest nodes (alphaSize ≤ 258: a sorted array will do).
    const parent = new Int32Array(alphaSize * 2).fill(-1);
    const nodes: { weight: number; id: number }[] = [];
    for (let s = 0; s < alphaSize; s++) nodes.push({ weight: weight[s]!, id: s });
    nodes.sort((a, b) => a.weight - b.weight || a.id - b.id);
    let nextId = alphaSize;
    while (nodes.length > 1) {
      const a = nodes.shift()!;
      const b = nodes.shift()!;
      const joined = { weight: a.weight + b.weight, id: nextId++ };
      parent[a.id] = joined.id;
      parent[b.id] = joined.id;
      let at = nodes.findIndex((node) => node.weight > joined.weight);
      if (at < 0) at = nodes.length;
      nodes.splice(at, 0, joined);
    }
    let tooLong = false;
    for (let s = 0; s < alphaSize; s++) {
      let depth = 0;
      for (let node = s; parent[node]! >= 0; node = parent[node]!) depth++;
      out[s] = Math.max(1, depth);
      if (depth > maxLength) tooLong = true;
    }
    if (!tooLong) return;
    // Flatten the distribution and try again (lengths shrink as weights come closer).
    for (let s = 0; s < alphaSize; s++) weight[s] = 1 + Math.floor(weight[s]! / 2);
  }
}

/** Canonical codes for these lengths: shorter first, then by symbol. */
function canonicalCodes(lengths: Uint8Array, alphaSize: number, codes: Int32Array): void {
  let code = 0;
  for (let length = 1; length <= 20; length++) {
    for (let s = 0; s < alphaSize; s++) if (lengths[s] === length) codes[s] = code++;
    code <<= 1;
  }
}

/** Tables for this many symbols to code (more symbols pay for more tables). */
function tableCount(symbols: number): number {
  if (symbols < 200) return 2;
  if (symbols < 600) return 3;
  if (symbols < 1200) return 4;
  if (symbols < 2400) return 5;
  return 6;
}

/** One block (after RLE1) as bzip2 bits: header, transform, tables, selectors, data. */
function writeBlock(out: BitWriter, block: Uint8Array, n: number, crc: number, arrays: WorkArrays): void {
  const sa = sortRotations(block, n, arrays);

  // Bytes in use, and the last column as indices into them, move-to-front coded.
  const inUse = new Uint8Array(256);
  for (let i = 0; i < n; i++) inUse[block[i]!] = 1;
  const toIndex = new Uint8Array(256);
  let used = 0;
  for (let b = 0; b < 256; b++) if (inUse[b]) toIndex[b] = used++;
  const alphaSize = used + 2;
  const eob = used + 1;

  const symbols = new Uint16Array(n + 1); // at most one symbol per byte, and the end of block
  const freq = new Int32Array(alphaSize);
  const order = new Uint8Array(used);
  for (let i = 0; i < used; i++) order[i] = i;
  let count = 0;
  let zeros = 0;
  let origPtr = -1;
  const flushZeros = () => {
    // A run of zeros as its length in bijective base 2, least significant digit first.
    let run = zeros - 1;
    for (;;) {
      const symbol = run & 1 ? RUNB : RUNA;
      symbols[count++] = symbol;
      freq[symbol]!++;
      if (run < 2) break;
      run = (run - 2) >> 1;
    }
    zeros = 0;
  };
  for (let j = 0; j < n; j++) {
    let i = sa[j]! - 1;
    if (i < 0) {
      i += n;
      origPtr = j;
    }
    const value = toIndex[block[i]!]!;
    if (order[0] === value) {
      zeros++;
      continue;
    }
    if (zeros > 0) flushZeros();
    let position = 1;
    let previous = order[0]!;
    while (order[position] !== value) {
      const here = order[position]!;
      order[position] = previous;
      previous = here;
      position++;
    }
    order[position] = previous;
    order[0] = value;
    symbols[count++] = position + 1;
    freq[position + 1]!++;
  }
  if (zeros > 0) flushZeros();
  symbols[count++] = eob;
  freq[eob]!++;

  // Tables: start from frequency bands (each table cheap for one band of symbols), then
  // refine: choose each group's cheapest table, rebuild the tables from what they coded.
  const tables = tableCount(count);
  const selectorCount = Math.ceil(count / GROUP_SIZE);
  const lengths = Array.from({ length: tables }, () => new Uint8Array(alphaSize));
  let remaining = count;
  let low = 0;
  for (let part = tables; part > 0; part--) {
    const target = remaining / part;
    let high = low - 1;
    let taken = 0;
    while (taken < target && high < alphaSize - 1) taken += freq[++high]!;
    if (high > low && part !== tables && part !== 1 && (tables - part) % 2 === 1) taken -= freq[high--]!;
    const table = lengths[part - 1]!;
    for (let s = 0; s < alphaSize; s++) table[s] = s >= low && s <= high ? 0 : 15;
    low = high + 1;
    remaining -= taken;
  }
  const selectors = new Uint8Array(selectorCount);
  const tableFreq = Array.from({ length: tables }, () => new Int32Array(alphaSize));
  const cost = new Int32Array(tables);
  for (let pass = 0; pass < REFINE_PASSES; pass++) {
    for (const f of tableFreq) f.fill(0);
    for (let g = 0; g < selectorCount; g++) {
      const start = g * GROUP_SIZE;
      const end = Math.min(start + GROUP_SIZE, count);
      cost.fill(0);
      for (let i = start; i < end; i++) {
        const symbol = symbols[i]!;
        for (let t = 0; t < tables; t++) cost[t]! += lengths[t]![symbol]!;
      }
      let best = 0;
      for (let t = 1; t < tables; t++) if (cost[t]! < cost[best]!) best = t;
      selectors[g] = best;
      const f = tableFreq[best]!;
      for (let i = start; i < end; i++) f[symbols[i]!]!++;
    }
    for (let t = 0; t < tables; t++) codeLengths(tableFreq[t]!, alphaSize, MAX_CODE_LENGTH, lengths[t]!);
  }
  const codes = Array.from({ length: tables }, (_, t) => {
    const c = new Int32Array(alphaSize);
    canonicalCodes(lengths[t]!, alphaSize, c);
    return c;
  });

  // Block header.
  out.write(24, 0x314159);
  out.write(24, 0x265359);
  out.write32(crc);
  out.write(1, 0); // not randomised
  out.write(24, origPtr);
  // The bytes in use: 16 ranges of 16, then each used range's bits.
  let ranges = 0;
  for (let r = 0; r < 16; r++) for (let b = 0; b < 16; b++) if (inUse[r * 16 + b]) ranges |= 0x8000 >> r;
  out.write(16, ranges);
  for (let r = 0; r < 16; r++) {
    if (!(ranges & (0x8000 >> r))) continue;
    let bits = 0;
    for (let b = 0; b < 16; b++) if (inUse[r * 16 + b]) bits |= 0x8000 >> b;
    out.write(16, bits);
  }
  out.write(3, tables);
  out.write(15, selectorCount);
  const tableOrder = Array.from({ length: tables }, (_, t) => t);
  for (let g = 0; g < selectorCount; g++) {
    const position = tableOrder.indexOf(selectors[g]!);
    for (let i = 0; i < position; i++) out.write(1, 1);
    out.write(1, 0);
    tableOrder.splice(position, 1);
    tableOrder.unshift(selectors[g]!);
  }
  // Code lengths: the first in 5 bits, then each as steps up (10) or down (11) from the last, ended by 0.
  for (let t = 0; t < tables; t++) {
    const table = lengths[t]!;
    let current = table[0]!;
    out.write(5, current);
    for (let s = 0; s < alphaSize; s++) {
      while (current < table[s]!) {
        out.write(2, 2);
        current++;
      }
      while (current > table[s]!) {
        out.write(2, 3);
        current--;
      }
      out.write(1, 0);
    }
  }
  for (let g = 0; g < selectorCount; g++) {
    const t = selectors[g]!;
    const table = lengths[t]!;
    const code = codes[t]!;
    const end = Math.min(g * GROUP_SIZE + GROUP_SIZE, count);
    for (let i = g * GROUP_SIZE; i < end; i++) out.write(table[symbols[i]!]!, code[symbols[i]!]!);
  }
}

interface WorkArrays {
  readonly sa: Int32Array;
  readonly ordered: Int32Array;
  readonly rank: Int32Array;
  readonly next: Int32Array;
}

/** Options of {@link Bzip2Encoder}. */
export interface Bzip2Options {
  /** Block size in units of 100,000 bytes, 1 to 9 (as `bzip2 -1` … `-9`); 9 by default. */
  readonly level?: number;
}

/**
 * bzip2 compression as a push encoder: {@link Bzip2Encoder.write} returns whatever whole
 * blocks the input completed, {@link Bzip2Encoder.end} the rest and the stream trailer. Each
 * block is compressed synchronously when it fills (hundreds of milliseconds for a full one).
 */
export class Bzip2Encoder {
  private readonly level: number;
  private readonly maxBlock: number;
  private block: Uint8Array;
  private readonly out: BitWriter;
  private arrays: WorkArrays | undefined;
  private length = 0;
  private crc = -1;
  private combined = 0;
  private runByte = -1;
  private runLength = 0;
  private started = false;

  constructor(options: Bzip2Options = {}) {
    const level = options.level ?? 9;
    if (!Number.isInteger(level) || level < 1 || level > 9) throw new RangeError('bzip2 level is 1 to 9');
    this.level = level;
    // As the reference encoder: room below the format's limit for a run written whole.
    this.maxBlock = level * 100_000 - 19;
    // Grown as the input comes (a small document costs little), up to one block.
    this.block = new Uint8Array(Math.min(this.maxBlock, 64 * 1024));
    this.out = new BitWriter(64 * 1024);
  }

  /** Compressed bytes for `input` (empty until a block fills). */
  write(input: Uint8Array): Buffer {
    this.start();
    let runByte = this.runByte;
    let runLength = this.runLength;
    for (let i = 0; i < input.length; i++) {
      const byte = input[i]!;
      if (byte === runByte && runLength < 255) {
        runLength++;
        continue;
      }
      if (runLength > 0) this.flushRun(runByte, runLength);
      runByte = byte;
      runLength = 1;
    }
    this.runByte = runByte;
    this.runLength = runLength;
    return this.out.take();
  }

  /** The last block and the stream's trailer. */
  end(): Buffer {
    this.start();
    if (this.runLength > 0) this.flushRun(this.runByte, this.runLength);
    this.runLength = 0;
    this.endBlock();
    this.out.write(24, 0x177245);
    this.out.write(24, 0x385090);
    this.out.write32(this.combined);
    this.out.pad();
    this.arrays = undefined;
    return this.out.take();
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.out.write(24, 0x425a68); // "BZh"
    this.out.write(8, 0x30 + this.level);
  }

  /** A run of `length` (1..255) `byte`s into the block: as is below 4, else 4 and a count. */
  private flushRun(byte: number, length: number): void {
    const size = length < 4 ? length : 5;
    if (this.length + size > this.maxBlock) this.endBlock();
    let crc = this.crc;
    for (let i = 0; i < length; i++) crc = (crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]!;
    this.crc = crc;
    if (this.length + size > this.block.length) {
      const bigger = new Uint8Array(Math.min(this.maxBlock, this.block.length * 4));
      bigger.set(this.block.subarray(0, this.length));
      this.block = bigger;
    }
    const block = this.block;
    if (length < 4) for (let i = 0; i < length; i++) block[this.length++] = byte;
    else {
      block[this.length++] = byte;
      block[this.length++] = byte;
      block[this.length++] = byte;
      block[this.length++] = byte;
      block[this.length++] = length - 4;
    }
  }

  private endBlock(): void {
    if (this.length === 0) return;
    const crc = ~this.crc >>> 0;
    this.combined = (((this.combined << 1) | (this.combined >>> 31)) ^ crc) >>> 0;
    const size = this.block.length;
    if (!this.arrays || this.arrays.sa.length < size) this.arrays = { sa: new Int32Array(size), ordered: new Int32Array(size), rank: new Int32Array(size), next: new Int32Array(size) };
    writeBlock(this.out, this.block, this.length, crc, this.arrays);
    this.length = 0;
    this.crc = -1;
  }
}

/** Input up to this size is compressed in this thread; past it, in a worker (see {@link bzip2Compressor}). */
const IN_THREAD_BYTES = 256 * 1024;

/** Options of {@link bzip2Compressor}. */
export interface Bzip2StreamOptions extends Bzip2Options {
  /**
   * The worker's module (the built `bzip2-worker.js` beside this one by default); `false`, or a
   * file that is not there (tests running the TypeScript sources), compresses in this thread.
   */
  readonly workerFile?: string | false;
}

/** Messages of the worker ({@link runBzip2Worker}). */
type WorkerAnswer = { readonly out: Uint8Array } | { readonly error: string };

/**
 * bzip2 compression as a Transform stream. Memory: one block ({@link Bzip2Encoder}). A full
 * block takes a few hundred milliseconds to compress, so past the first 256 KiB of input the
 * encoder runs in a worker thread, and the server's event loop answers others meanwhile; a
 * smaller input is compressed here (tens of milliseconds), sparing the worker's start.
 */
export function bzip2Compressor(options: Bzip2StreamOptions = {}): Transform {
  const workerFile = options.workerFile === false ? undefined : (options.workerFile ?? fileURLToPath(new URL('./bzip2-worker.js', import.meta.url)));
  const offThread = workerFile !== undefined && existsSync(workerFile);
  let encoder: Bzip2Encoder | undefined = offThread ? undefined : new Bzip2Encoder(options);
  let held: Buffer[] = [];
  let heldBytes = 0;
  let worker: Worker | undefined;
  let waiting: { resolve: (out: Buffer) => void; reject: (error: Error) => void } | undefined;
  const ask = (message: { chunk?: Uint8Array; end?: true }) =>
    new Promise<Buffer>((resolve, reject) => {
      waiting = { resolve, reject };
      worker!.postMessage(message);
    });
  const startWorker = () => {
    worker = new Worker(workerFile!, { workerData: { level: options.level ?? 9 } });
    worker.on('message', (answer: WorkerAnswer) => {
      const w = waiting;
      waiting = undefined;
      if ('error' in answer) w?.reject(new Error(answer.error));
      else w?.resolve(Buffer.from(answer.out.buffer, answer.out.byteOffset, answer.out.byteLength));
    });
    worker.on('error', (error) => waiting?.reject(error));
    worker.on('exit', (code) => waiting?.reject(new Error(`the bzip2 worker stopped (exit code ${code})`)));
  };
  const stop = () => {
    const w = worker;
    worker = undefined;
    if (w) void w.terminate();
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (encoder) {
        try {
          const out = encoder.write(chunk);
          callback(null, out.length > 0 ? out : undefined);
        } catch (error) {
          callback(error as Error);
        }
        return;
      }
      if (!worker) {
        held.push(chunk);
        heldBytes += chunk.length;
        if (heldBytes <= IN_THREAD_BYTES) return callback();
        startWorker();
        chunk = Buffer.concat(held);
        held = [];
      }
      ask({ chunk }).then(
        (out) => callback(null, out.length > 0 ? out : undefined),
        (error: Error) => callback(error),
      );
    },
    flush(callback: TransformCallback) {
      if (!encoder && !worker) {
        // All of it was small: compressed here.
        encoder = new Bzip2Encoder(options);
        for (const chunk of held) {
          const out = encoder.write(chunk);
          if (out.length > 0) this.push(out);
        }
        held = [];
      }
      if (encoder) {
        try {
          callback(null, encoder.end());
        } catch (error) {
          callback(error as Error);
        }
        return;
      }
      ask({ end: true }).then(
        (out) => {
          stop();
          callback(null, out);
        },
        (error: Error) => {
          stop();
          callback(error);
        },
      );
    },
    destroy(error, callback) {
      stop();
      callback(error);
    },
  });
}

/** The worker's side of {@link bzip2Compressor}: an encoder fed over `port`. */
export function runBzip2Worker(port: MessagePort, level: number): void {
  const encoder = new Bzip2Encoder({ level });
  port.on('message', (message: { chunk?: Uint8Array; end?: true }) => {
    try {
      const out = message.end ? encoder.end() : encoder.write(message.chunk!);
      // Copied, not transferred: a small Buffer's memory is a pool shared with others.
      port.postMessage({ out } satisfies WorkerAnswer);
    } catch (error) {
      port.postMessage({ error: (error as Error).message } satisfies WorkerAnswer);
    }
  });
}
