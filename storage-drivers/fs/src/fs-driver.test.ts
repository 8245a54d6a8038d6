import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Disposable, Logger, PluginContext, StorageDriverDefinition } from '@registry-core/api';
import { describeStorageDriverConformance, failingStream, readAll } from '@registry-core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { activate, FsStorageDriver, fsStorageDriverDefinition } from './index.js';

async function tempRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'registry-core-storage-fs-'));
}

describeStorageDriverConformance('fs', async () => {
  const dir = await tempRoot();
  return {
    driver: new FsStorageDriver(join(dir, 'blobs')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

describe('FsStorageDriver on disk', () => {
  let dir: string;
  let driver: FsStorageDriver;

  beforeEach(async () => {
    dir = await tempRoot();
    driver = new FsStorageDriver(join(dir, 'root'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('offers an nginx X-Accel-Redirect path only when configured, and only for valid keys', () => {
    expect(new FsStorageDriver(join(dir, 'a')).internalRedirectPath('sha256/ab/cd/abcd')).toBeUndefined();
    const accel = new FsStorageDriver(join(dir, 'b'), { accelRedirect: '/_registry_blobs/' });
    expect(accel.internalRedirectPath('sha256/ab/cd/abcd')).toBe('/_registry_blobs/sha256/ab/cd/abcd');
    expect(() => accel.internalRedirectPath('../etc/passwd')).toThrow();
    for (const bad of ['_blobs/', '/_blobs', '/a b/', '/../x/', '/x/$host/']) {
      expect(() => new FsStorageDriver(join(dir, 'c'), { accelRedirect: bad })).toThrow(/accelRedirect/);
    }
  });

  it('refuses a relative root', () => {
    expect(() => new FsStorageDriver('relative/blobs')).toThrow(/absolute/);
  });

  it('stores a key as a path under the root', async () => {
    await driver.put('sha256/ab/cd/abcdef', Readable.from([Buffer.from('blob')]));
    expect((await stat(join(dir, 'root', 'sha256', 'ab', 'cd', 'abcdef'))).size).toBe(4);
  });

  it('leaves no temp file behind after success or failure', async () => {
    await driver.put('ok', Readable.from([Buffer.from('fine')]));
    await expect(driver.put('bad', failingStream(Buffer.from('half'), new Error('gone')))).rejects.toThrow('gone');
    await expect(driver.put('ok', Readable.from([Buffer.from('x')]), { size: 2 })).rejects.toMatchObject({ code: 'EINTEGRITY' });
    await expect(driver.put('ok', Readable.from([Buffer.from('y')]), { createOnly: true })).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await readdir(driver.tempDir)).toEqual([]);
  });

  it('reads a small object in one read of its own size, and ranges and empty objects to their ends', async () => {
    const body = Buffer.alloc(10_000, 7);
    await driver.put('small', Readable.from([body]));
    await driver.put('empty', Readable.from([]));
    // Node's file stream allocates each read's size before it reads: one read of the object's
    // size, not 1 MiB and a shorter copy, then another 1 MiB to learn of the end.
    const slow = Buffer.allocUnsafeSlow;
    const sizes: number[] = [];
    Buffer.allocUnsafeSlow = (size: number) => {
      sizes.push(size);
      return slow(size);
    };
    let whole: Buffer;
    try {
      whole = await readAll((await driver.get('small'))!);
    } finally {
      Buffer.allocUnsafeSlow = slow;
    }
    expect(whole.equals(body)).toBe(true);
    expect(sizes).toEqual([10_000]);
    expect((await readAll((await driver.get('small', { start: 9_990 }))!)).length).toBe(10);
    expect((await readAll((await driver.get('small', { start: 100, end: 199 }))!)).length).toBe(100);
    expect((await readAll((await driver.get('small', { start: 9_000, end: 20_000 }))!)).length).toBe(1_000);
    expect((await readAll((await driver.get('small', { start: 10_000 }))!)).length).toBe(0);
    expect((await readAll((await driver.get('small', { start: 20_000, end: 30_000 }))!)).length).toBe(0);
    expect((await readAll((await driver.get('empty'))!)).length).toBe(0);
  });

  it('stops reading once more bytes arrive than announced', async () => {
    let produced = 0;
    const endless = new Readable({
      read() {
        produced += 1024;
        this.push(Buffer.alloc(1024));
      },
    });
    await expect(driver.put('endless', endless, { size: 4096 })).rejects.toMatchObject({ code: 'EINTEGRITY' });
    expect(produced).toBeLessThan(1024 * 1024);
    expect(endless.destroyed).toBe(true);
    expect(await driver.head('endless')).toBeUndefined();
  });

  it('accepts an uppercase expected sha256 and refuses a malformed one', async () => {
    const sha = '2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824'; // "hello"
    await driver.put('hello', Readable.from([Buffer.from('hello')]), { sha256: sha });
    await expect(driver.put('hello2', Readable.from([Buffer.from('hello')]), { sha256: 'abc' })).rejects.toMatchObject({
      code: 'EINVAL',
    });
  });

  it('accepts string chunks', async () => {
    await driver.put('text', Readable.from(['hello ', 'world']));
    expect((await readAll((await driver.get('text'))!)).toString()).toBe('hello world');
  });

  it('never lists or serves the temp folder', async () => {
    await mkdir(driver.tempDir, { recursive: true });
    await writeFile(join(driver.tempDir, 'leftover.part'), 'partial');
    await driver.put('visible', Readable.from([Buffer.from('v')]));
    expect((await driver.list('')).keys).toEqual(['visible']);
    await expect(driver.get('.tmp/leftover.part')).rejects.toMatchObject({ code: 'EINVALIDKEY' });
    await expect(driver.list('.tmp/')).rejects.toMatchObject({ code: 'EINVALIDKEY' });
  });

  it('rejects a list prefix that climbs out of the root', async () => {
    await expect(driver.list('../')).rejects.toMatchObject({ code: 'EINVALIDKEY' });
    await expect(driver.list('a/../b')).rejects.toMatchObject({ code: 'EINVALIDKEY' });
    await expect(driver.list('a\\b')).rejects.toMatchObject({ code: 'EINVALIDKEY' });
  });

  it('writes nothing outside the root for an escaping key', async () => {
    await expect(driver.put('../escaped', Readable.from([Buffer.from('x')]))).rejects.toMatchObject({ code: 'EINVALIDKEY' });
    expect(existsSync(join(dir, 'escaped'))).toBe(false);
  });

  it('does not move a folder', async () => {
    await driver.put('folder/inside', Readable.from([Buffer.from('x')]));
    await expect(driver.move('folder', 'elsewhere')).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await driver.list('')).keys).toEqual(['folder/inside']);
  });

  it('refuses a bad limit', async () => {
    await expect(driver.list('', { limit: 0 })).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(driver.list('', { limit: 1.5 })).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('removes temp files older than an hour at init and keeps recent ones', async () => {
    await mkdir(driver.tempDir, { recursive: true });
    const old = join(driver.tempDir, 'old.part');
    const recent = join(driver.tempDir, 'recent.part');
    await writeFile(old, 'abandoned');
    await writeFile(recent, 'in progress');
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(old, twoHoursAgo, twoHoursAgo);
    await driver.init();
    expect(await readdir(driver.tempDir)).toEqual(['recent.part']);
  });
});

describe('fs storage plugin', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await tempRoot();
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function fakeContext(registered: StorageDriverDefinition[], disposed: string[]): PluginContext {
    const unexpected = (): Disposable => {
      throw new Error('the fs plugin registers only a storage driver');
    };
    return {
      plugin: { name: '@registry-core/storage-fs', version: '0.1.0', directory: dir },
      apiVersion: '1.0.0',
      logger: silentLogger,
      container: {
        register: () => undefined,
        resolve: () => {
          throw new Error('not used');
        },
        isRegistered: () => false,
      },
      options: {},
      registerFormat: unexpected,
      registerAuthProvider: unexpected,
      registerWebApp: unexpected,
      registerStorageDriver(definition) {
        registered.push(definition);
        return { dispose: () => disposed.push(definition.id) };
      },
      subscriptions: [],
    };
  }

  it('registers the fs driver on activate and hands its disposable to the host', () => {
    const registered: StorageDriverDefinition[] = [];
    const disposed: string[] = [];
    const context = fakeContext(registered, disposed);
    activate(context);
    expect(registered.map((d) => d.id)).toEqual(['fs']);
    expect(registered[0]).toBe(fsStorageDriverDefinition);
    for (const subscription of context.subscriptions) subscription.dispose();
    expect(disposed).toEqual(['fs']);
  });

  it('creates a driver whose relative path resolves against the config folder', async () => {
    const registered: StorageDriverDefinition[] = [];
    activate(fakeContext(registered, []));
    const created = await registered[0]!.create(
      { path: './registry-data/blobs' },
      { configDir: dir, dataDir: join(dir, 'registry-data'), logger: silentLogger },
    );
    expect(created).toBeInstanceOf(FsStorageDriver);
    const driver = created as FsStorageDriver;
    expect(driver.root).toBe(join(dir, 'registry-data', 'blobs'));
    expect((await stat(driver.tempDir)).isDirectory()).toBe(true);
    await driver.put('a/b', Readable.from([Buffer.from('data')]));
    expect((await stat(join(dir, 'registry-data', 'blobs', 'a', 'b'))).size).toBe(4);
  });

  it('keeps an absolute path as it is', async () => {
    const created = await fsStorageDriverDefinition.create(
      { path: join(dir, 'abs') },
      { configDir: '/somewhere/else', dataDir: dir, logger: silentLogger },
    );
    expect((created as FsStorageDriver).root).toBe(join(dir, 'abs'));
  });

  it('refuses a config without a path', async () => {
    const env = { configDir: dir, dataDir: dir, logger: silentLogger };
    await expect(fsStorageDriverDefinition.create({}, env)).rejects.toThrow(/path/);
    await expect(fsStorageDriverDefinition.create({ path: 42 }, env)).rejects.toThrow(/path/);
  });
});
