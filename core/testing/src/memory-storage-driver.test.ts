import { Readable } from 'node:stream';
import type { Disposable, PluginContext, StorageDriverDefinition } from '@registry-core/api';
import { describe, expect, it } from 'vitest';
import { describeStorageDriverConformance } from './storage-driver-conformance.js';
import { activate, MemoryStorageDriver, memoryStorageDriverDefinition, memoryStore } from './memory-storage-driver.js';

// The driver holds every object whole, so the large-object test streams 8 MiB (which stays
// under the suite's 48 MiB growth limit) instead of 64 MiB: flat memory is the one promise
// of the contract a memory store cannot keep.
describeStorageDriverConformance(
  'memory',
  async () => ({ driver: new MemoryStorageDriver(), cleanup: async () => undefined }),
  { largeObjectBytes: 8 * 1024 * 1024 },
);

describe('memory storage driver as a plugin', () => {
  it('registers the memory driver from activate()', () => {
    const registered: StorageDriverDefinition[] = [];
    const subscriptions: Disposable[] = [];
    activate({
      subscriptions,
      registerStorageDriver: (definition: StorageDriverDefinition) => {
        registered.push(definition);
        return { dispose() {} };
      },
    } as unknown as PluginContext);
    expect(registered.map((d) => d.id)).toEqual(['memory']);
    expect(subscriptions).toHaveLength(1);
  });

  it('shares a named store until it is closed, and refuses a second one of that name', async () => {
    const env = { configDir: '/', dataDir: '/', logger: undefined as never };
    const driver = await memoryStorageDriverDefinition.create({ store: 'shared-test' }, env);
    await driver.put('a/b', Readable.from([Buffer.from('x')]));
    expect(memoryStore('shared-test')?.entries()).toEqual([{ key: 'a/b', size: 1, sha256: '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881' }]);
    expect(() => memoryStorageDriverDefinition.create({ store: 'shared-test' }, env)).toThrow(/already open/);
    await driver.close?.();
    expect(memoryStore('shared-test')).toBeUndefined();
    expect(() => memoryStorageDriverDefinition.create({ store: 7 }, env)).toThrow(/non-empty string/);
  });
});
