import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DerivedMemory } from './derived-cache.js';
import { DerivedDisk } from './derived-disk.js';

const folders: string[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

async function parent(): Promise<string> {
  const folder = await mkdtemp(path.join(tmpdir(), 'derived-disk-'));
  folders.push(folder);
  return folder;
}

/** About 3 kB rendered: some thirteen fit in the memory of 40 kB below. */
const document = (n: number) => ({ name: `p${n}`, list: 'x'.repeat(3000) });

describe('DerivedDisk under DerivedMemory', () => {
  it('writes a rendering the memory lets go and reads it back instead of rendering it again', async () => {
    const disk = await DerivedDisk.create(await parent(), 1 << 20);
    const memory = new DerivedMemory(40_000, disk);
    const a = memory.forRepository('a');
    const first = await a.renderJson('k0', () => document(0));
    const bytes = Buffer.concat(first.chunks as Buffer[]);
    // Past the budget k0 goes to disk, once.
    for (let n = 1; n < 20; n++) await a.renderJson(`k${n}`, () => document(n));
    expect(memory.stats().bytes).toBeLessThanOrEqual(40_000);
    await disk.settled();
    expect(disk.stats().writes).toBeGreaterThanOrEqual(1);
    expect((await readdir(disk.dir)).length).toBe(disk.stats().entries);
    // Only the process's user reads them (private packages' documents are among them).
    expect((await stat(disk.dir)).mode & 0o777).toBe(0o700);
    for (const name of await readdir(disk.dir)) expect((await stat(path.join(disk.dir, name))).mode & 0o777).toBe(0o600);
    let produced = 0;
    const again = await a.renderJson('k0', () => {
      produced++;
      return document(0);
    });
    expect(produced).toBe(0);
    expect(Buffer.concat(again.chunks as Buffer[]).equals(bytes)).toBe(true);
    expect(again.etag).toBe(first.etag);
    expect(again.size).toBe(first.size);
    expect(disk.stats().reads).toBe(1);
    // Back in memory, and still on disk: letting it go again writes nothing.
    const writes = disk.stats().writes;
    for (let n = 20; n < 40; n++) await a.renderJson(`k${n}`, () => document(n));
    await disk.settled();
    expect(await a.renderJson('k0', () => ({ produced: ++produced }))).toMatchObject({ etag: first.etag });
    expect(produced).toBe(0);
    // Every key rendered was written at most once.
    expect(disk.stats().writes).toBeLessThanOrEqual(40);
    await memory.close();
    expect(existsSync(disk.dir)).toBe(false);
  });

  it('writes a rendering too large for the memory at once, and a slot\'s newer one replaces it', async () => {
    const disk = await DerivedDisk.create(await parent(), 1 << 20);
    const memory = new DerivedMemory(40_000, disk);
    const a = memory.forRepository('a');
    const large = (rev: number) => ({ rev, list: 'x'.repeat(20_000) });
    const first = await a.renderJson('big@1', () => large(1), 'big');
    expect(memory.stats().entries).toBe(0);
    await disk.settled();
    expect(disk.stats().entries).toBe(1);
    let produced = 0;
    const again = await a.renderJson('big@1', () => large(++produced), 'big');
    expect(produced).toBe(0);
    expect(again.etag).toBe(first.etag);
    await a.renderJson('big@2', () => large(2), 'big');
    await disk.settled();
    expect(disk.stats().entries).toBe(1);
    expect((await readdir(disk.dir)).length).toBe(1);
    await a.renderJson('big@1', () => large(++produced));
    expect(produced).toBe(1);
    await memory.close();
  });

  it('keeps another repository\'s key apart on disk too', async () => {
    const disk = await DerivedDisk.create(await parent(), 1 << 20);
    const memory = new DerivedMemory(40_000, disk);
    await memory.forRepository('a').renderJson('k', () => ({ from: 'a', pad: 'x'.repeat(3000) }));
    for (let n = 0; n < 20; n++) await memory.forRepository('a').renderJson(`fill${n}`, () => document(n));
    await disk.settled();
    const b = await memory.forRepository('b').renderJson('k', () => ({ from: 'b' }));
    expect(JSON.parse(Buffer.concat(b.chunks as Buffer[]).toString())).toEqual({ from: 'b' });
    await memory.close();
  });

  it('removes the file of a key its slot\'s newer rendering replaced', async () => {
    const disk = await DerivedDisk.create(await parent(), 1 << 20);
    const memory = new DerivedMemory(40_000, disk);
    const a = memory.forRepository('a');
    await a.renderJson('pkg@1', () => ({ rev: 1, pad: 'x'.repeat(3000) }), 'pkg');
    for (let n = 0; n < 20; n++) await a.renderJson(`k${n}`, () => document(n));
    await disk.settled();
    const files = (await readdir(disk.dir)).length;
    expect(disk.stats().entries).toBe(files);
    // A publish: the package's next revision replaces the one on disk.
    await a.renderJson('pkg@2', () => ({ rev: 2 }), 'pkg');
    expect((await readdir(disk.dir)).length).toBe(files - 1);
    let produced = 0;
    await a.renderJson('pkg@1', () => ({ rev: 1, n: ++produced }));
    expect(produced).toBe(1);
    await memory.close();
  });

  it('keeps its files within its budget, least recently used first, and renders again what it let go', async () => {
    const disk = await DerivedDisk.create(await parent(), 40_000);
    const memory = new DerivedMemory(40_000, disk);
    const a = memory.forRepository('a');
    for (let n = 0; n < 60; n++) await a.renderJson(`k${n}`, () => document(n));
    await disk.settled();
    expect(disk.stats().bytes).toBeLessThanOrEqual(40_000);
    expect((await readdir(disk.dir)).length).toBe(disk.stats().entries);
    let produced = 0;
    await a.renderJson('k0', () => {
      produced++;
      return document(0);
    });
    expect(produced).toBe(1);
    await memory.close();
  });

  it('lets renderings go in the order it was given them, however their writes finish', async () => {
    const disk = await DerivedDisk.create(await parent(), 1000);
    const forgotten: string[] = [];
    disk.onForget = (key) => forgotten.push(key);
    // Twenty of 100 bytes, all handed over before any write finishes: ten fit.
    for (let n = 0; n < 20; n++) disk.keep(`k${n}`, { chunks: [Buffer.alloc(100, n)], size: 100, etag: `"${n}"` });
    expect(forgotten).toEqual(Array.from({ length: 10 }, (_, n) => `k${n}`));
    expect(disk.has('k0')).toBe(false);
    expect(disk.has('k19')).toBe(true);
    await disk.settled();
    expect(disk.stats()).toMatchObject({ entries: 10, bytes: 1000, writes: 10 });
    expect((await readdir(disk.dir)).length).toBe(10);
    expect(await disk.read('k0')).toBeUndefined();
    expect(Buffer.concat((await disk.read('k10'))!.chunks as Buffer[])).toEqual(Buffer.alloc(100, 10));
    await disk.close();
  });

  it('renders again when a file went behind its back, and counts the failure', async () => {
    const disk = await DerivedDisk.create(await parent(), 1 << 20);
    const memory = new DerivedMemory(40_000, disk);
    const a = memory.forRepository('a');
    const first = await a.renderJson('k0', () => document(0));
    for (let n = 1; n < 20; n++) await a.renderJson(`k${n}`, () => document(n));
    await disk.settled();
    for (const name of await readdir(disk.dir)) await unlink(path.join(disk.dir, name));
    // A file cut short is not served either.
    let produced = 0;
    const again = await a.renderJson('k0', () => {
      produced++;
      return document(0);
    });
    expect(produced).toBe(1);
    expect(again.etag).toBe(first.etag);
    expect(disk.stats().failures).toBe(1);
    await memory.close();
  });

  it('does not serve a file cut short', async () => {
    const disk = await DerivedDisk.create(await parent(), 1 << 20);
    const memory = new DerivedMemory(40_000, disk);
    const a = memory.forRepository('a');
    await a.renderJson('k0', () => document(0));
    for (let n = 1; n < 20; n++) await a.renderJson(`k${n}`, () => document(n));
    await disk.settled();
    for (const name of await readdir(disk.dir)) await writeFile(path.join(disk.dir, name), '{"cut":');
    let produced = 0;
    const again = await a.renderJson('k0', () => ({ n: ++produced }));
    expect(produced).toBe(1);
    expect(JSON.parse(Buffer.concat(again.chunks as Buffer[]).toString())).toEqual({ n: 1 });
    await memory.close();
  });

  it('serves a rendering being written from memory, and leaves no file when stopped meanwhile', async () => {
    const disk = await DerivedDisk.create(await parent(), 1 << 20);
    const rendered = { chunks: [Buffer.from('{"a":1}')], size: 7, etag: '"e"' };
    expect(disk.keep('k', rendered)).toBe(true);
    expect(await disk.read('k')).toBe(rendered);
    await disk.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(existsSync(disk.dir)).toBe(false);
    expect(disk.keep('later', rendered)).toBe(false);
  });

  it('does not write a rendering over an eighth of its budget', async () => {
    const disk = await DerivedDisk.create(await parent(), 800);
    expect(disk.keep('big', { chunks: [Buffer.alloc(101)], size: 101, etag: '"e"' })).toBe(false);
    expect(disk.keep('small', { chunks: [Buffer.alloc(100)], size: 100, etag: '"e"' })).toBe(true);
    await disk.close();
  });

  it('removes the folders of this host\'s stopped processes, not a running one\'s', async () => {
    const under = await parent();
    const host = hostname().replace(/[^A-Za-z0-9.-]/g, '_');
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    const folder = (pid: number, tag: string) => path.join(under, `derived-${host}-${pid}-${tag}`);
    for (const dir of [folder(gone, 'old'), folder(process.ppid, 'live'), folder(process.pid, 'mine'), path.join(under, 'derived-otherhost-1-x')]) {
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, '1'), 'x');
    }
    const disk = await DerivedDisk.create(under, 1 << 20);
    expect(existsSync(folder(gone, 'old'))).toBe(false);
    // This process's id in an older folder: a process before it had the id (a container's pid 1).
    expect(existsSync(folder(process.pid, 'mine'))).toBe(false);
    expect(existsSync(folder(process.ppid, 'live'))).toBe(true);
    expect(existsSync(path.join(under, 'derived-otherhost-1-x'))).toBe(true);
    expect(path.dirname(disk.dir)).toBe(under);
    await disk.close();
  });
});
