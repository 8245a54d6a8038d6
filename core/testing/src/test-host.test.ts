import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryStore } from './memory-storage-driver.js';
import { createTestHost, type TestHost } from './test-host.js';

// The example third-party format (plain files by path) is the smallest real format to start.
const rawPlugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../examples/raw-format-plugin');

describe('createTestHost', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await createTestHost({ plugins: [rawPlugin], repositories: { files: { format: 'raw', type: 'hosted' } } });
  });

  afterAll(async () => {
    await host?.stop();
  });

  it('serves the real kernel on a loopback port with users, tokens and the memory store', async () => {
    expect(host.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(host.repositoryUrl('files')).toBe(`${host.url}/files/`);
    const anonymous = await host.fetch('/files/a/b.txt', { method: 'PUT', body: 'nope' });
    expect(anonymous.status).toBe(401);
    const token = await host.userToken('alice');
    const put = await host.fetch('/files/a/b.txt', { method: 'PUT', body: 'hello', token });
    expect(put.status).toBe(201);
    const got = await host.fetch(`${host.repositoryUrl('files')}a/b.txt`);
    expect(got.status).toBe(200);
    expect(await got.text()).toBe('hello');
    const state = await host.stored();
    expect(state.blobs).toHaveLength(1);
    expect(state.blobs[0]?.size).toBe(5);
    expect(state.assets.some((row) => row.includes('"a/b.txt"'))).toBe(true);
    const readOnly = await host.createToken('alice', { readOnly: true });
    expect((await host.fetch('/files/a/c.txt', { method: 'PUT', body: 'x', token: readOnly })).status).toBe(403);
    expect((await host.audit({ action: 'token.create' })).length).toBe(2);
  });

  it('sends raw paths as they are', async () => {
    const answer = await host.rawRequest('/files/%2e%2e/%2e%2e/etc/passwd');
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
  });

  it('refuses a config the kernel cannot serve, naming why', async () => {
    await expect(createTestHost({ plugins: [rawPlugin], repositories: { files: { format: 'nope', type: 'hosted' } } })).rejects.toThrow(/repository files: no active plugin provides format "nope"/);
  });

  it('frees its memory store when stopped', async () => {
    const other = await createTestHost({ plugins: [rawPlugin], repositories: { files: { format: 'raw', type: 'hosted' } } });
    const before = (globalThis as Record<symbol, Map<string, unknown>>)[Symbol.for('@registry-core/testing:memory-stores')]!.size;
    await other.stop();
    await other.stop();
    expect((globalThis as Record<symbol, Map<string, unknown>>)[Symbol.for('@registry-core/testing:memory-stores')]!.size).toBe(before - 1);
    expect(memoryStore('missing')).toBeUndefined();
  });
});
