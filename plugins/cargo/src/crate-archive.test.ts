import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { CrateChecker } from './crate-archive.js';
import { tarGz } from './testing/crate-files.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('CrateChecker', () => {
  it('holds no chunk it passed on: memory stays flat however large the .crate', async () => {
    // 48 MiB: a checker that keeps what it passed on holds about all of it; one that does not
    // still shows up to ~16 MiB here at times (zlib and tar-stream buffers, GC timing), so the
    // bound is half the crate, clear of both.
    const size = 48 * 1024 * 1024;
    const crate = await tarGz([
      { name: 'rc-big-1.0.0/Cargo.toml', content: '[package]\nname = "rc-big"\nversion = "1.0.0"\n' },
      { name: 'rc-big-1.0.0/blob.bin', content: randomBytes(size) },
    ], 1);
    // Handed out in 64 KiB slices copied off the whole, so the whole is not what is measured.
    let offset = 0;
    const source = new Readable({
      read() {
        if (offset >= crate.length) return this.push(null);
        this.push(Buffer.from(crate.subarray(offset, offset + 65536)));
        offset += 65536;
      },
    });
    gc();
    const base = process.memoryUsage().arrayBuffers - crate.length;
    let grown = 0;
    let seen = 0;
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        seen += chunk.length;
        if (seen % (8 * 1024 * 1024) < chunk.length) {
          gc();
          grown = Math.max(grown, process.memoryUsage().arrayBuffers - crate.length - base);
        }
        callback();
      },
    });
    await pipeline(source, new CrateChecker({ name: 'rc-big', vers: '1.0.0' }, async () => undefined), sink);
    expect(seen).toBe(crate.length);
    expect(grown, 'bytes held while the .crate streamed').toBeLessThan(size / 2);
  });
});
