import { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { StorageDriver } from '@registry-core/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  failingStream,
  generatedStream,
  hashStream,
  MemoryWatch,
  pseudoRandomBytes,
  readAll,
  sha256Hex,
  slowStream,
  truncatedStream,
} from './streams.js';

const MiB = 1024 * 1024;

/** What the setup of {@link describeStorageDriverConformance} hands to each test. */
export interface StorageDriverFixture {
  /** A driver over an empty store (a fresh folder, bucket or bucket prefix). */
  readonly driver: StorageDriver;
  /** Remove the store; called after `driver.close()`. */
  cleanup(): Promise<void>;
}

/** Knobs for slow back ends; the defaults suit a local filesystem or emulator. */
export interface StorageDriverConformanceOptions {
  /** Size of the object streamed through in the memory test. Default 64 MiB. */
  readonly largeObjectBytes?: number;
  /**
   * Most the process's RSS and ArrayBuffer memory may grow while the large object is
   * written and read. Default 48 MiB: holding a 64 MiB object whole goes over it.
   */
  readonly memoryGrowthLimitBytes?: number;
  /** Timeout of each test in ms. Default 30 s; the large-object test gets four times that. */
  readonly timeoutMs?: number;
}

/** Keys every driver must reject with code `EINVALIDKEY`, before touching its store. */
export const INVALID_STORAGE_KEYS: readonly string[] = [
  '',
  '/absolute',
  'a//b',
  'trailing/',
  '.',
  '..',
  './a',
  'a/./b',
  'a/../b',
  '../escape',
  'a/..',
  'back\\slash',
  'nul\0byte',
];

/** Byte order of keys in listings: UTF-8 bytes, as object stores list them. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Call `fn` so that a synchronous throw becomes a rejection, for `expect(...).rejects`. */
function attempt<T>(fn: () => Promise<T>): Promise<T> {
  return Promise.resolve().then(fn);
}

/**
 * The contract every {@link StorageDriver} must meet, as a vitest suite. Call it at the top
 * level of a test file; `setup` runs before every test and must give a driver over an
 * empty store, `cleanup` runs after it.
 *
 * Error codes the suite expects on the errors a driver throws (as a `code` property):
 * `EEXIST` (create-only put of an existing key), `EINTEGRITY` (size or sha256 mismatch),
 * `EINVALIDKEY` (a key that is not a safe relative path).
 */
export function describeStorageDriverConformance(
  name: string,
  setup: () => Promise<StorageDriverFixture>,
  options: StorageDriverConformanceOptions = {},
): void {
  const largeObjectBytes = options.largeObjectBytes ?? 64 * MiB;
  const memoryGrowthLimit = options.memoryGrowthLimitBytes ?? 48 * MiB;
  const timeout = options.timeoutMs ?? 30_000;

  describe(`storage driver conformance: ${name}`, { timeout }, () => {
    let fixture: StorageDriverFixture | undefined;
    const driver = (): StorageDriver => {
      if (fixture === undefined) throw new Error('setup did not run');
      return fixture.driver;
    };

    beforeEach(async () => {
      fixture = await setup();
    });

    afterEach(async () => {
      const current = fixture;
      fixture = undefined;
      if (current === undefined) return;
      try {
        await current.driver.close?.();
      } finally {
        await current.cleanup();
      }
    });

    async function put(key: string, data: Buffer | string): Promise<void> {
      await driver().put(key, Readable.from([Buffer.from(data)]));
    }

    async function content(key: string): Promise<Buffer | undefined> {
      const stream = await driver().get(key);
      return stream === undefined ? undefined : readAll(stream);
    }

    async function listAll(prefix: string): Promise<string[]> {
      const keys: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10_000; page++) {
        const result = await driver().list(prefix, cursor === undefined ? {} : { cursor });
        keys.push(...result.keys);
        cursor = result.cursor;
        if (cursor === undefined) return keys;
      }
      throw new Error('list did not end');
    }

    async function expectNothingVisible(key: string): Promise<void> {
      expect(await driver().head(key)).toBeUndefined();
      expect(await driver().get(key)).toBeUndefined();
      expect((await driver().list('')).keys).toEqual([]);
    }

    describe('put, get and head', () => {
      it('round-trips bytes and reports key, size and time', async () => {
        const data = pseudoRandomBytes(100_003, 7);
        const before = Date.now();
        const info = await driver().put('objects/a/b.bin', Readable.from([data]));
        expect(info.key).toBe('objects/a/b.bin');
        expect(info.size).toBe(data.length);
        expect(info.lastModified).toBeInstanceOf(Date);
        // Remote stores have their own clocks; only catch nonsense such as the epoch.
        expect(Math.abs(info.lastModified.getTime() - before)).toBeLessThan(10 * 60_000);

        const head = await driver().head('objects/a/b.bin');
        expect(head?.key).toBe('objects/a/b.bin');
        expect(head?.size).toBe(data.length);
        expect(head?.lastModified).toBeInstanceOf(Date);
        expect((await content('objects/a/b.bin'))?.equals(data)).toBe(true);
      });

      it('accepts a stream of many chunks', async () => {
        const data = pseudoRandomBytes(300_000, 8);
        const info = await driver().put('chunks.bin', slowStream(data, 7_000));
        expect(info.size).toBe(data.length);
        expect((await content('chunks.bin'))?.equals(data)).toBe(true);
      });

      it('stores an empty object', async () => {
        const info = await driver().put('empty', Readable.from([]), { size: 0, sha256: sha256Hex('') });
        expect(info.size).toBe(0);
        expect((await driver().head('empty'))?.size).toBe(0);
        expect((await content('empty'))?.length).toBe(0);
      });

      it('accepts keys with spaces, punctuation and non-ASCII letters', async () => {
        const key = 'a folder/ünïcødé 名前/@scope+pkg-1.0.0~beta_(1).tgz';
        await put(key, 'weird');
        expect((await content(key))?.toString()).toBe('weird');
        expect((await driver().list('')).keys).toEqual([key]);
      });

      it('replaces an existing object', async () => {
        await put('replace/me', 'old content that is longer');
        await put('replace/me', 'new');
        expect((await content('replace/me'))?.toString()).toBe('new');
        expect((await driver().head('replace/me'))?.size).toBe(3);
      });

      it('accepts a put whose expected size and sha256 match', async () => {
        const data = pseudoRandomBytes(50_000, 9);
        const info = await driver().put('verified', Readable.from([data]), {
          size: data.length,
          sha256: sha256Hex(data),
        });
        expect(info.size).toBe(data.length);
        expect((await content('verified'))?.equals(data)).toBe(true);
      });

      it(
        'streams a large object through with flat memory',
        async () => {
          const chunkSize = 64 * 1024;
          // First pass: the digest to announce, without keeping the bytes.
          const expected = await hashStream(generatedStream(largeObjectBytes, { chunkSize, seed: 42 }));
          expect(expected.size).toBe(largeObjectBytes);

          const memory = new MemoryWatch();
          // Without a collector, up to V8's external-memory soft limit (64 MiB) of dead
          // buffers may pile up before a collection; allow for it rather than be flaky.
          const limit = memory.collects ? memoryGrowthLimit : memoryGrowthLimit + 64 * MiB;
          let chunks = 0;
          const sample = (): void => {
            if (++chunks % 64 === 0) memory.sample();
          };

          const info = await driver().put(
            'large/object.bin',
            generatedStream(largeObjectBytes, { chunkSize, seed: 42, onChunk: sample }),
            { size: expected.size, sha256: expected.sha256 },
          );
          memory.sample();
          expect(info.size).toBe(largeObjectBytes);
          expect((await driver().head('large/object.bin'))?.size).toBe(largeObjectBytes);

          const stream = await driver().get('large/object.bin');
          expect(stream).toBeDefined();
          const read = await hashStream(stream!, sample);
          memory.sample();
          expect(read).toEqual(expected);

          const detail = `rss +${(memory.rssGrowth / MiB).toFixed(1)} MiB, arrayBuffers +${(memory.arrayBuffersGrowth / MiB).toFixed(1)} MiB`;
          expect(memory.rssGrowth, detail).toBeLessThan(limit);
          expect(memory.arrayBuffersGrowth, detail).toBeLessThan(limit);
        },
        timeout * 4,
      );
    });

    describe('atomicity', () => {
      it('leaves nothing visible when the source errors midway', async () => {
        const upload = driver().put('aborted/object', failingStream(pseudoRandomBytes(200_000, 1), new Error('client went away')));
        await expect(upload).rejects.toThrow();
        await expectNothingVisible('aborted/object');
      });

      it('leaves nothing visible when the source is destroyed midway', async () => {
        const upload = driver().put('truncated/object', truncatedStream(pseudoRandomBytes(200_000, 2)));
        await expect(upload).rejects.toThrow();
        await expectNothingVisible('truncated/object');
      });

      it('rejects a sha256 mismatch with EINTEGRITY and leaves nothing visible', async () => {
        const data = pseudoRandomBytes(10_000, 3);
        const upload = driver().put('bad/sha', Readable.from([data]), { sha256: sha256Hex('something else') });
        await expect(upload).rejects.toMatchObject({ code: 'EINTEGRITY' });
        await expectNothingVisible('bad/sha');
      });

      it('rejects a size mismatch with EINTEGRITY and leaves nothing visible', async () => {
        const data = pseudoRandomBytes(10_000, 4);
        await expect(driver().put('bad/size', Readable.from([data]), { size: data.length + 1 })).rejects.toMatchObject({
          code: 'EINTEGRITY',
        });
        await expectNothingVisible('bad/size');
        await expect(driver().put('bad/size', slowStream(data), { size: data.length - 1 })).rejects.toMatchObject({
          code: 'EINTEGRITY',
        });
        await expectNothingVisible('bad/size');
      });

      it('keeps the old object when an overwrite fails', async () => {
        await put('keep/me', 'original');
        await expect(driver().put('keep/me', failingStream(Buffer.from('partial'), new Error('boom')))).rejects.toThrow();
        await expect(
          driver().put('keep/me', Readable.from([Buffer.from('wrong')]), { sha256: sha256Hex('right') }),
        ).rejects.toMatchObject({ code: 'EINTEGRITY' });
        expect((await content('keep/me'))?.toString()).toBe('original');
        expect((await driver().list('')).keys).toEqual(['keep/me']);
      });

      it('lets readers see the old or the new object during an overwrite, never a mix', async () => {
        const oldData = pseudoRandomBytes(256 * 1024, 11);
        const newData = pseudoRandomBytes(256 * 1024, 12);
        const versions = new Set([sha256Hex(oldData), sha256Hex(newData)]);
        await driver().put('swap', Readable.from([oldData]));

        let done = false;
        const writing = driver()
          .put('swap', slowStream(newData, 8 * 1024))
          .finally(() => {
            done = true;
          });
        let reads = 0;
        while (!done || reads === 0) {
          // Yield a full turn: a driver that answers from memory would otherwise starve the writer.
          await nextTurn();
          const seen = await content('swap');
          expect(seen).toBeDefined();
          expect(versions.has(sha256Hex(seen!))).toBe(true);
          reads++;
        }
        await writing;
        expect((await content('swap'))?.equals(newData)).toBe(true);
      });
    });

    describe('concurrent writes', () => {
      it('two puts of one key both succeed and one complete version remains', async () => {
        const a = pseudoRandomBytes(512 * 1024, 21);
        const b = pseudoRandomBytes(512 * 1024, 22);
        // The slower writer starts first and the faster one overtakes it, so writes that are
        // not isolated from each other leave a mix of both.
        const slower = driver().put('race/key', slowStream(a, 10 * 1024));
        for (let turn = 0; turn < 8; turn++) await nextTurn();
        const faster = driver().put('race/key', slowStream(b, 16 * 1024));
        const results = await Promise.all([slower, faster]);
        expect(results.map((r) => r.size)).toEqual([a.length, b.length]);
        const final = await content('race/key');
        expect([sha256Hex(a), sha256Hex(b)]).toContain(sha256Hex(final!));
        expect((await driver().list('')).keys).toEqual(['race/key']);
      });

      it('of two create-only puts of one key exactly one wins', async () => {
        const a = pseudoRandomBytes(512 * 1024, 31);
        const b = pseudoRandomBytes(512 * 1024, 32);
        const results = await Promise.allSettled([
          driver().put('race/create-only', slowStream(a, 16 * 1024), { createOnly: true }),
          driver().put('race/create-only', slowStream(b, 16 * 1024), { createOnly: true }),
        ]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect(lost[0]?.reason).toMatchObject({ code: 'EEXIST' });
        const winner = results[0]?.status === 'fulfilled' ? a : b;
        expect((await content('race/create-only'))?.equals(winner)).toBe(true);
        expect((await driver().list('')).keys).toEqual(['race/create-only']);
      });
    });

    describe('create-only', () => {
      it('stores a new key', async () => {
        const info = await driver().put('fresh', Readable.from([Buffer.from('x')]), { createOnly: true });
        expect(info.size).toBe(1);
        expect((await content('fresh'))?.toString()).toBe('x');
      });

      it('fails with EEXIST on an existing key and keeps the object', async () => {
        await put('taken', 'first');
        await expect(
          driver().put('taken', Readable.from([Buffer.from('second')]), { createOnly: true }),
        ).rejects.toMatchObject({ code: 'EEXIST' });
        expect((await content('taken'))?.toString()).toBe('first');
        expect((await driver().list('')).keys).toEqual(['taken']);
      });
    });

    describe('missing keys', () => {
      it('head and get resolve undefined, delete resolves false', async () => {
        await put('present/object', 'here');
        for (const key of ['missing', 'present/missing', 'no/such/folder/object', 'present/object/below-an-object', 'present']) {
          expect(await driver().head(key), key).toBeUndefined();
          expect(await driver().get(key), key).toBeUndefined();
          expect(await driver().get(key, { start: 0 }), key).toBeUndefined();
          expect(await driver().delete(key), key).toBe(false);
        }
        expect((await driver().list('')).keys).toEqual(['present/object']);
      });
    });

    describe('byte ranges', () => {
      const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));

      it('serves a range from a start to the end', async () => {
        await driver().put('ranged', Readable.from([data]));
        const stream = await driver().get('ranged', { start: 100 });
        expect((await readAll(stream!)).equals(data.subarray(100))).toBe(true);
      });

      it('serves a range with an inclusive end', async () => {
        await driver().put('ranged', Readable.from([data]));
        const stream = await driver().get('ranged', { start: 10, end: 19 });
        expect((await readAll(stream!)).equals(data.subarray(10, 20))).toBe(true);
      });

      it('serves a single byte, the first and the last', async () => {
        await driver().put('ranged', Readable.from([data]));
        for (const at of [0, 500, data.length - 1]) {
          const stream = await driver().get('ranged', { start: at, end: at });
          expect([...(await readAll(stream!))]).toEqual([data[at]]);
        }
      });

      it('serves the whole object as the range 0 to size - 1', async () => {
        await driver().put('ranged', Readable.from([data]));
        const stream = await driver().get('ranged', { start: 0, end: data.length - 1 });
        expect((await readAll(stream!)).equals(data)).toBe(true);
      });

      it('stops at the end of the object when the end is past it', async () => {
        await driver().put('ranged', Readable.from([data]));
        const stream = await driver().get('ranged', { start: 990, end: 5000 });
        expect((await readAll(stream!)).equals(data.subarray(990))).toBe(true);
      });
    });

    describe('delete', () => {
      it('removes an object and resolves true, then false', async () => {
        await put('del/one', '1');
        await put('del/two', '2');
        expect(await driver().delete('del/one')).toBe(true);
        expect(await driver().head('del/one')).toBeUndefined();
        expect(await driver().get('del/one')).toBeUndefined();
        expect(await driver().delete('del/one')).toBe(false);
        expect((await driver().list('')).keys).toEqual(['del/two']);
      });

      it('allows the key to be written again', async () => {
        await put('again', 'one');
        await driver().delete('again');
        await driver().put('again', Readable.from([Buffer.from('two')]), { createOnly: true });
        expect((await content('again'))?.toString()).toBe('two');
      });
    });

    describe('move', () => {
      it('moves an object to a new key', async () => {
        await put('incoming/upload', 'payload');
        await driver().move('incoming/upload', 'sha256/ab/cd/abcd');
        expect(await driver().head('incoming/upload')).toBeUndefined();
        expect((await content('sha256/ab/cd/abcd'))?.toString()).toBe('payload');
        expect((await driver().head('sha256/ab/cd/abcd'))?.size).toBe(7);
        expect((await driver().list('')).keys).toEqual(['sha256/ab/cd/abcd']);
      });

      it('replaces the target', async () => {
        await put('move/from', 'new');
        await put('move/to', 'old and longer');
        await driver().move('move/from', 'move/to');
        expect((await content('move/to'))?.toString()).toBe('new');
        expect((await driver().list('')).keys).toEqual(['move/to']);
      });

      it('rejects a missing source and changes nothing', async () => {
        await put('move/target', 'kept');
        await expect(attempt(() => driver().move('move/missing', 'move/target'))).rejects.toThrow();
        expect((await content('move/target'))?.toString()).toBe('kept');
      });
    });

    describe('list', () => {
      const keys = [
        'list/a/1',
        'list/a/10',
        'list/a/2',
        'list/a/b/c',
        'list/a-b',
        'list/a.txt',
        'list/ab',
        'list/b',
        'list/z/deep/er/still',
        ...Array.from({ length: 12 }, (_, i) => `list/n/${String(i).padStart(2, '0')}`),
        'listx',
        'other/z',
      ];

      async function putAll(): Promise<void> {
        for (const key of keys) await put(key, key);
      }

      it('lists every key in byte order, a page at a time', async () => {
        await putAll();
        const expected = keys.filter((k) => k.startsWith('list/')).sort(byteOrder);
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await driver().list('list/', cursor === undefined ? { limit: 4 } : { cursor, limit: 4 });
          expect(page.keys.length).toBeLessThanOrEqual(4);
          seen.push(...page.keys);
          cursor = page.cursor;
          pages++;
          expect(pages).toBeLessThan(50);
        } while (cursor !== undefined);
        expect(seen).toEqual(expected);
        expect(pages).toBeGreaterThanOrEqual(Math.ceil(expected.length / 4));
        // `list/a-b` sorts before `list/a/…` because '-' < '/'.
        expect(seen.indexOf('list/a-b')).toBeLessThan(seen.indexOf('list/a/1'));
      });

      it('gives no cursor on the last page', async () => {
        await putAll();
        const all = await driver().list('list/a/');
        expect(all.keys).toEqual(['list/a/1', 'list/a/10', 'list/a/2', 'list/a/b/c']);
        expect(all.cursor).toBeUndefined();
        const exact = await driver().list('list/a/', { limit: 4 });
        expect(exact.keys).toHaveLength(4);
        expect(exact.cursor).toBeUndefined();
        const single = await driver().list('list/a/', { limit: 1 });
        expect(single.keys).toEqual(['list/a/1']);
        expect(single.cursor).toBeDefined();
      });

      it('filters by prefix as a string, not only by folder', async () => {
        await putAll();
        expect(await listAll('list/a')).toEqual(
          ['list/a/1', 'list/a/10', 'list/a/2', 'list/a/b/c', 'list/a-b', 'list/a.txt', 'list/ab'].sort(byteOrder),
        );
        expect(await listAll('list/a/b/')).toEqual(['list/a/b/c']);
        expect(await listAll('list/z/')).toEqual(['list/z/deep/er/still']);
        expect(await listAll('list')).toEqual(keys.filter((k) => k.startsWith('list')).sort(byteOrder));
        expect(await listAll('')).toEqual([...keys].sort(byteOrder));
        expect(await listAll('nothing/')).toEqual([]);
        expect(await listAll('list/b')).toEqual(['list/b']);
      });

      it('continues after the cursor even when that key was deleted', async () => {
        await putAll();
        const expected = keys.filter((k) => k.startsWith('list/')).sort(byteOrder);
        const first = await driver().list('list/', { limit: 3 });
        expect(first.keys).toEqual(expected.slice(0, 3));
        await driver().delete(first.cursor!);
        const rest = await driver().list('list/', { cursor: first.cursor!, limit: 100 });
        expect(rest.keys).toEqual(expected.slice(3));
        expect(rest.cursor).toBeUndefined();
      });

      it('lists nothing in an empty store', async () => {
        expect(await driver().list('')).toEqual({ keys: [] });
        expect((await driver().list('any/prefix/')).keys).toEqual([]);
      });
    });

    describe('invalid keys', () => {
      it.each(INVALID_STORAGE_KEYS.map((key) => [JSON.stringify(key), key] as const))(
        'rejects %s with EINVALIDKEY in every method',
        async (_label, key) => {
          await put('valid', 'ok');
          const invalid = { code: 'EINVALIDKEY' };
          await expect(attempt(() => driver().put(key, Readable.from([Buffer.from('x')])))).rejects.toMatchObject(invalid);
          await expect(
            attempt(() => driver().put(key, Readable.from([Buffer.from('x')]), { createOnly: true })),
          ).rejects.toMatchObject(invalid);
          await expect(attempt(() => driver().get(key))).rejects.toMatchObject(invalid);
          await expect(attempt(() => driver().head(key))).rejects.toMatchObject(invalid);
          await expect(attempt(() => driver().delete(key))).rejects.toMatchObject(invalid);
          await expect(attempt(() => driver().move(key, 'valid-target'))).rejects.toMatchObject(invalid);
          await expect(attempt(() => driver().move('valid', key))).rejects.toMatchObject(invalid);
          expect((await driver().list('')).keys).toEqual(['valid']);
          expect((await content('valid'))?.toString()).toBe('ok');
        },
      );
    });
  });
}
