import { Readable } from 'node:stream';
import type { Logger } from '@registry-core/api';
import { describeStorageDriverConformance, readAll } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { azureStorageDriverDefinition, createDriver, parseOptions } from './index.js';
import { ACCOUNT, KEY, startAzurite, type TestAzurite } from './test-support/azurite.js';

// Azurite, Microsoft's Azure Storage emulator, as its own process (blob service only).
let azurite: TestAzurite;
let endpoint = '';
let containers = 0;

const service = () => azurite.admin();

beforeAll(async () => {
  azurite = await startAzurite();
  endpoint = azurite.endpoint;
}, 60_000);
afterAll(async () => {
  await azurite?.stop();
});

async function freshDriver(extra: Record<string, unknown> = {}) {
  const container = `c${++containers}-${process.pid}`;
  await service().getContainerClient(container).create();
  return createDriver(parseOptions({ container, accountName: ACCOUNT, accountKey: KEY, endpoint, blockSize: 1024 * 1024, ...extra }));
}

describeStorageDriverConformance('azure (azurite)', async () => ({ driver: await freshDriver({ prefix: 'registry' }), cleanup: async () => undefined }), {
  largeObjectBytes: 64 * 1024 * 1024,
  timeoutMs: 60_000,
});

const logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return logger; } } as unknown as Logger;
const env = { configDir: '/', dataDir: '/', logger };

describe('Azure driver against azurite', () => {
  it('says at start when the container is missing or the key is refused', async () => {
    await expect(azureStorageDriverDefinition.create({ container: 'no-such-container', accountName: ACCOUNT, accountKey: KEY, endpoint }, env)).rejects.toThrow(/container "no-such-container" does not exist/);
    await expect(azureStorageDriverDefinition.create({ container: 'anything', accountName: ACCOUNT, accountKey: Buffer.from('wrong').toString('base64'), endpoint }, env)).rejects.toThrow(/refused/);
  });

  it('validates its options, naming each problem', () => {
    expect(() => parseOptions({})).toThrow(/"container" is required.*connectionString/);
    expect(() => parseOptions({ container: 'Bad_Name', accountName: 'a', accountKey: 'k', blockSize: 10, extra: 1 })).toThrow(/unknown option "extra".*container.*blockSize/);
  });

  it('stages a large object in blocks and reads ranges of it', async () => {
    const driver = await freshDriver();
    const size = 5 * 1024 * 1024 + 321;
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 13) & 0xff;
    await driver.put('big/object.bin', Readable.from([bytes.subarray(0, 3_000_000), bytes.subarray(3_000_000)]), { size });
    expect((await driver.head('big/object.bin'))?.size).toBe(size);
    expect((await readAll((await driver.get('big/object.bin', { start: 4_000_000, end: 4_000_099 }))!)).equals(bytes.subarray(4_000_000, 4_000_100))).toBe(true);
    expect((await readAll((await driver.get('big/object.bin'))!)).equals(bytes)).toBe(true);
  });

  it('gives a SAS URL a plain client can download from', async () => {
    const driver = await freshDriver();
    await driver.put('signed.txt', Readable.from([Buffer.from('signed bytes')]));
    const url = await driver.presignedGetUrl('signed.txt', 60);
    expect(url).toMatch(/sig=/);
    expect(await (await fetch(url!)).text()).toBe('signed bytes');
  });
});
