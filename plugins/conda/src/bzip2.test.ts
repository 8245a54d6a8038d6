import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Bzip2Encoder, bzip2Compressor, codeLengths, type Bzip2Options } from './bzip2.js';

/** `input` compressed, written to the encoder in chunks of `chunk` bytes. */
function compress(input: Buffer, options: Bzip2Options = {}, chunk = 64 * 1024): Buffer {
  const encoder = new Bzip2Encoder(options);
  const parts: Buffer[] = [];
  for (let i = 0; i < input.length; i += chunk) parts.push(encoder.write(input.subarray(i, i + chunk)));
  parts.push(encoder.end());
  return Buffer.concat(parts);
}

const bzip2Decode = (compressed: Buffer) => execFileSync('bzip2', ['-dc'], { input: compressed, maxBuffer: 1024 ** 3 });
/** Each of `compressed` decompressed by Python's bz2 module, in one python3 run (its start is slow here). */
function pythonDecode(compressed: readonly Buffer[]): Buffer[] {
  const script = 'import base64, bz2, json, sys; print(json.dumps([base64.b64encode(bz2.decompress(base64.b64decode(b))).decode() for b in json.load(sys.stdin)]))';
  const out = execFileSync('python3', ['-c', script], { input: JSON.stringify(compressed.map((b) => b.toString('base64'))), maxBuffer: 1024 ** 3 });
  return (JSON.parse(out.toString()) as string[]).map((b) => Buffer.from(b, 'base64'));
}

/** Round trips whose Python decoding is checked after each test, all in one run. */
const forPython: { input: Buffer; compressed: Buffer }[] = [];
afterEach(() => {
  const pending = forPython.splice(0);
  if (pending.length === 0) return;
  pythonDecode(pending.map((p) => p.compressed)).forEach((decoded, i) => expect(decoded.equals(pending[i]!.input)).toBe(true));
});

/** Decoded by the system's bzip2 and by Python's bz2 module, byte for byte. */
function expectRoundTrip(input: Buffer, options: Bzip2Options = {}, chunk?: number): Buffer {
  const compressed = compress(input, options, chunk);
  expect(compressed.subarray(0, 4).toString('latin1')).toBe(`BZh${options.level ?? 9}`);
  expect(bzip2Decode(compressed).equals(input)).toBe(true);
  forPython.push({ input, compressed });
  // bzip2 -t checks every block's CRC and the stream's.
  execFileSync('bzip2', ['-t'], { input: compressed });
  return compressed;
}

/** JSON shaped as conda repodata: repeated keys, varied names, hashes that do not compress. */
function repodataLike(records: number): Buffer {
  const words = ['python', 'numpy', 'libblas', 'openssl', 'zlib', 'arrow', 'cuda', 'geo', 'hdf5', 'dask'];
  const packages: Record<string, unknown> = {};
  for (let i = 0; i < records; i++) {
    const name = `${words[i % 10]}-${words[(i * 7) % 10]}`;
    const build = `py3${i % 4}h${(i * 2654435761).toString(16).slice(-7)}_${i % 3}`;
    packages[`${name}-1.${i % 50}.${i % 7}-${build}.tar.bz2`] = {
      build,
      build_number: i % 3,
      depends: [`python >=3.${i % 12},<3.13.0a0`, `${words[(i * 3) % 10]} >=1.${i % 9}`],
      license: 'BSD-3-Clause',
      md5: randomBytes(16).toString('hex'),
      name,
      sha256: randomBytes(32).toString('hex'),
      size: 1000 + i,
      subdir: 'linux-64',
      timestamp: 1700000000000 + i * 1000,
      version: `1.${i % 50}.${i % 7}`,
    };
  }
  return Buffer.from(JSON.stringify({ info: { subdir: 'linux-64' }, packages, 'packages.conda': {}, removed: [], repodata_version: 1 }));
}

describe('bzip2 encoder', () => {
  it('encodes the empty input, one byte and short texts', () => {
    expect(expectRoundTrip(Buffer.alloc(0))).toEqual(execFileSync('bzip2', ['-c', '-9'], { input: Buffer.alloc(0) }));
    expectRoundTrip(Buffer.from('a'));
    expectRoundTrip(Buffer.from([0]));
    expectRoundTrip(Buffer.from([255, 255]));
    expectRoundTrip(Buffer.from('hello hello hello world\n'));
    // every byte value once: the most symbols a block's tables can have
    expectRoundTrip(Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
  });

  it('encodes random bytes over several blocks, whatever the chunk size', () => {
    const random = randomBytes(250_000);
    const out = expectRoundTrip(random, { level: 1 }, 999);
    expect(out.length).toBeLessThan(random.length * 1.02);
    expectRoundTrip(random.subarray(0, 3000), {}, 1);
  });

  // The transform's worst cases for a naive sort: a block of one byte (after the first RLE,
  // a period of 5), and a short pattern repeated; prefix doubling is n log n on both.
  it('encodes 5 MB of one byte and 5 MB of a short repeated pattern', () => {
    expect(expectRoundTrip(Buffer.alloc(5_000_000, 0x41)).length).toBeLessThan(200);
    expect(expectRoundTrip(Buffer.from('abcdefg'.repeat(720_000)), { level: 3 }).length).toBeLessThan(5_000);
    expectRoundTrip(Buffer.from('ab'.repeat(300_000)), { level: 2 });
  });

  // Runs of 4 and more are written as 4 bytes and a count: at block ends, run limits (255)
  // and a run of exactly 4 (count 0).
  it('encodes runs at their limits and across block boundaries', () => {
    const parts: Buffer[] = [];
    for (let i = 0; i < 4000; i++) parts.push(Buffer.alloc([1, 3, 4, 5, 251, 255, 256, 259, 510][i % 9]!, i % 7), Buffer.from([200 + (i % 3)]));
    const runs = Buffer.concat(parts);
    expect(runs.length).toBeGreaterThan(300_000);
    expectRoundTrip(runs, { level: 1 });
    expectRoundTrip(runs, { level: 1 }, 7);
    // a run that cannot fit the rest of a block starts the next one
    expectRoundTrip(Buffer.concat([randomBytes(99_978), Buffer.alloc(300, 9), randomBytes(10)]), { level: 1 });
  });

  it('encodes repodata-like JSON as small as bzip2 -9 does (within 1%)', () => {
    const json = repodataLike(12_000);
    const ours = expectRoundTrip(json);
    const reference = execFileSync('bzip2', ['-c', '-9'], { input: json, maxBuffer: 1024 ** 3 });
    expect(ours.length).toBeLessThan(reference.length * 1.01);
  });

  it('streams: a Transform whose output starts before its input ends', async () => {
    const json = repodataLike(8_000);
    expect(json.length).toBeGreaterThan(2 * 900_000);
    const encoder = new Bzip2Encoder();
    // one block's worth in: the first block is out before the input is done
    expect(encoder.write(json.subarray(0, 1_000_000)).length).toBeGreaterThan(4);
    const chunks: Buffer[] = [];
    await pipeline(
      Readable.from((function* () {
        for (let i = 0; i < json.length; i += 10_000) yield json.subarray(i, i + 10_000);
      })()),
      bzip2Compressor(),
      async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) chunks.push(chunk);
      },
    );
    expect(chunks.length).toBeGreaterThan(1);
    expect(bzip2Decode(Buffer.concat(chunks)).equals(json)).toBe(true);
  });

  // Frequencies growing as Fibonacci's make a Huffman tree as deep as the alphabet: the
  // lengths must be flattened to the 17 bits the encoder allows (the format reads up to 20),
  // and stay a prefix code.
  it('keeps Huffman code lengths within 17 bits, as a complete prefix code', () => {
    const fib = [1, 1];
    while (fib.length < 40) fib.push(fib.at(-1)! + fib.at(-2)!);
    for (const freq of [fib, [...fib, ...Array<number>(200).fill(0)], Array.from({ length: 258 }, (_, i) => (i < 3 ? 1_000_000 : 1)), [5, 0]]) {
      const lengths = new Uint8Array(freq.length);
      codeLengths(freq, freq.length, 17, lengths);
      expect(Math.max(...lengths)).toBeLessThanOrEqual(17);
      expect(Math.min(...lengths)).toBeGreaterThanOrEqual(1);
      expect([...lengths].reduce((kraft, l) => kraft + 2 ** -l, 0)).toBeCloseTo(1, 12);
    }
  });

  it('refuses a level outside 1 to 9', () => {
    expect(() => new Bzip2Encoder({ level: 0 })).toThrow(RangeError);
    expect(() => new Bzip2Encoder({ level: 10 })).toThrow(RangeError);
  });
});

describe('bzip2Compressor in a worker thread', () => {
  const workerFile = fileURLToPath(new URL('../dist/bzip2-worker.js', import.meta.url));
  const run = async (input: Buffer, options: Parameters<typeof bzip2Compressor>[0]) => {
    const chunks: Buffer[] = [];
    await pipeline(
      Readable.from((function* () {
        for (let i = 0; i < input.length; i += 64 * 1024) yield input.subarray(i, i + 64 * 1024);
      })()),
      bzip2Compressor(options),
      async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) chunks.push(chunk);
      },
    );
    return Buffer.concat(chunks);
  };

  // The built worker module (the tests run after the build, as the e2e tests do).
  it('gives the same bytes as the encoder in this thread, for small and large inputs', async () => {
    expect(existsSync(workerFile)).toBe(true);
    const large = repodataLike(5_000);
    const offThread = await run(large, { workerFile });
    expect(offThread.equals(compress(large))).toBe(true);
    expect(bzip2Decode(offThread).equals(large)).toBe(true);
    const small = Buffer.from('{"info":{"subdir":"noarch"}}');
    expect((await run(small, { workerFile })).equals(compress(small))).toBe(true);
    expect((await run(Buffer.alloc(0), { workerFile })).equals(compress(Buffer.alloc(0)))).toBe(true);
  });

  it('stops its worker when the stream is destroyed halfway', async () => {
    const stream = bzip2Compressor({ workerFile });
    stream.write(randomBytes(600_000));
    await new Promise((resolve) => setImmediate(resolve));
    stream.destroy();
    await new Promise((resolve) => stream.once('close', resolve));
    expect(stream.destroyed).toBe(true);
  });
});
