import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type {
  ByteRange,
  PluginContext,
  StorageDriver,
  StorageDriverDefinition,
  StorageListPage,
  StorageObjectInfo,
  StoragePutOptions,
} from '@registry-core/api';

/** Error codes the storage contract names (see describeStorageDriverConformance). */
export type MemoryStorageErrorCode = 'EEXIST' | 'EINTEGRITY' | 'EINVALIDKEY' | 'ENOENT';

/** A refusal of the memory driver, with the contract's `code`. */
export class MemoryStorageError extends Error {
  constructor(readonly code: MemoryStorageErrorCode, message: string) {
    super(message);
    this.name = 'MemoryStorageError';
  }
}

interface StoredObject {
  /** The object's bytes, one chunk per chunk received (never concatenated: no copy of a large object). */
  readonly chunks: readonly Buffer[];
  readonly size: number;
  readonly sha256: string;
  readonly lastModified: Date;
  readonly contentType?: string;
}

/** A stored object as a test sees it. */
export interface MemoryStorageEntry {
  readonly key: string;
  readonly size: number;
  readonly sha256: string;
}

const DEFAULT_LIST_LIMIT = 1000;

/** Keys the host builds: `/`-separated relative paths without empty, `.` or `..` segments, backslashes or NUL. */
function checkKey(key: string): void {
  const valid =
    typeof key === 'string' &&
    key !== '' &&
    !key.includes('\\') &&
    !key.includes('\0') &&
    key.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
  if (!valid) throw new MemoryStorageError('EINVALIDKEY', `invalid storage key ${JSON.stringify(key)}`);
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The bytes of `chunks` from `start` to `end` (exclusive), as slices (no copies). */
function* slices(chunks: readonly Buffer[], start: number, end: number): Generator<Buffer> {
  let offset = 0;
  for (const chunk of chunks) {
    const from = Math.max(start - offset, 0);
    const to = Math.min(end - offset, chunk.length);
    if (from < to) yield chunk.subarray(from, to);
    offset += chunk.length;
    if (offset >= end) return;
  }
}

/**
 * A {@link StorageDriver} that keeps objects in this process's memory: for tests and
 * throw-away registries (`storage.<name>.driver: memory`). It meets the storage contract
 * (atomic puts verified against an expected size and sha256, create-only, ranges, paginated
 * byte-order listings, key validation) except flat memory: every object is held whole.
 */
export class MemoryStorageDriver implements StorageDriver {
  private readonly objects = new Map<string, StoredObject>();
  /** Keys a create-only put is writing: a second create-only put of one of them loses at once. */
  private readonly creating = new Set<string>();

  async put(key: string, body: Readable, options: StoragePutOptions = {}): Promise<StorageObjectInfo> {
    checkKey(key);
    if (options.createOnly) {
      if (this.objects.has(key) || this.creating.has(key)) {
        body.resume();
        throw new MemoryStorageError('EEXIST', `${key} already exists`);
      }
      this.creating.add(key);
    }
    try {
      const chunks: Buffer[] = [];
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of body as AsyncIterable<Buffer | string>) {
        const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk);
        size += buffer.length;
        if (options.size !== undefined && size > options.size) {
          body.destroy();
          throw new MemoryStorageError('EINTEGRITY', `${key}: more than the expected ${options.size} bytes`);
        }
        hash.update(buffer);
        chunks.push(buffer);
      }
      const sha256 = hash.digest('hex');
      if (options.size !== undefined && size !== options.size) {
        throw new MemoryStorageError('EINTEGRITY', `${key}: ${size} bytes, expected ${options.size}`);
      }
      if (options.sha256 !== undefined && sha256 !== options.sha256.toLowerCase()) {
        throw new MemoryStorageError('EINTEGRITY', `${key}: sha256 ${sha256}, expected ${options.sha256}`);
      }
      if (options.createOnly && this.objects.has(key)) throw new MemoryStorageError('EEXIST', `${key} already exists`);
      const stored: StoredObject = { chunks, size, sha256, lastModified: new Date(), ...(options.contentType ? { contentType: options.contentType } : {}) };
      // The one synchronous step that makes the object visible: readers see old or new.
      this.objects.set(key, stored);
      return { key, size, lastModified: stored.lastModified };
    } finally {
      if (options.createOnly) this.creating.delete(key);
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable | undefined> {
    checkKey(key);
    const stored = this.objects.get(key);
    if (!stored) return undefined;
    const start = range?.start ?? 0;
    const end = Math.min(range?.end === undefined ? stored.size : range.end + 1, stored.size);
    // The chunks of this version, captured now: a later overwrite does not change this read.
    return Readable.from(slices(stored.chunks, start, end), { objectMode: false });
  }

  async head(key: string): Promise<StorageObjectInfo | undefined> {
    checkKey(key);
    const stored = this.objects.get(key);
    return stored ? { key, size: stored.size, lastModified: stored.lastModified } : undefined;
  }

  async delete(key: string): Promise<boolean> {
    checkKey(key);
    return this.objects.delete(key);
  }

  async move(from: string, to: string): Promise<void> {
    checkKey(from);
    checkKey(to);
    const stored = this.objects.get(from);
    if (!stored) throw new MemoryStorageError('ENOENT', `${from} does not exist`);
    if (from === to) return;
    this.objects.set(to, stored);
    this.objects.delete(from);
  }

  async list(prefix: string, options: { cursor?: string; limit?: number } = {}): Promise<StorageListPage> {
    const limit = Math.max(1, options.limit ?? DEFAULT_LIST_LIMIT);
    const after = options.cursor;
    const keys = [...this.objects.keys()]
      .filter((key) => key.startsWith(prefix) && (after === undefined || byteOrder(key, after) > 0))
      .sort(byteOrder);
    const page = keys.slice(0, limit);
    return keys.length > limit ? { keys: page, cursor: page[page.length - 1]! } : { keys: page };
  }

  /** Every stored object with its size and sha256, in key order (for "nothing changed" checks). */
  entries(): MemoryStorageEntry[] {
    return [...this.objects.entries()]
      .sort(([a], [b]) => byteOrder(a, b))
      .map(([key, stored]) => ({ key, size: stored.size, sha256: stored.sha256 }));
  }

  async close(): Promise<void> {
    this.objects.clear();
  }
}

/**
 * Drivers by `storage.<name>.store`, shared by every copy of this module in the process (a
 * test file may load it through vitest while the kernel imports it natively), so a test can
 * look into the store of a registry it started.
 */
const SHARED_STORES = Symbol.for('@registry-core/testing:memory-stores');

function sharedStores(): Map<string, MemoryStorageDriver> {
  const holder = globalThis as { [SHARED_STORES]?: Map<string, MemoryStorageDriver> };
  return (holder[SHARED_STORES] ??= new Map());
}

/** The driver a registry built for `storage.<name>: { driver: memory, store: <id> }`, if any. */
export function memoryStore(id: string): Pick<MemoryStorageDriver, 'entries' | 'list' | 'head' | 'get'> | undefined {
  return sharedStores().get(id);
}

/** Storage driver id `memory`: `{ driver: memory }`, optionally `store: <id>` to find it with {@link memoryStore}. */
export const memoryStorageDriverDefinition: StorageDriverDefinition = {
  id: 'memory',
  create(options) {
    const driver = new MemoryStorageDriver();
    const id = options['store'];
    if (id === undefined) return driver;
    if (typeof id !== 'string' || id === '') throw new Error('storage: "store" of the memory driver must be a non-empty string');
    const stores = sharedStores();
    if (stores.has(id)) throw new Error(`storage: a memory store named ${id} is already open`);
    stores.set(id, driver);
    const close = driver.close.bind(driver);
    driver.close = async () => {
      if (stores.get(id) === driver) stores.delete(id);
      await close();
    };
    return driver;
  },
};

/** Plugin entry (`registryCore.main`): registers the `memory` storage driver. */
export function activate(context: PluginContext): void {
  context.subscriptions.push(context.registerStorageDriver(memoryStorageDriverDefinition));
}
