// server.releaseMemoryWhenIdle in a running registry: the zero-config default, whose start
// grows V8's young generation, gives it back once the process has gone quiet; the same
// registry with the release off keeps it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

interface Memory {
  releases: number;
  newSpaceBytes: number;
  rssBytes: number;
}

const memory = async (registry: RunningRegistry): Promise<Memory> => ((await (await fetch(`${registry.url}/-/stats`)).json()) as { memory: Memory }).memory;

describe('memory released when the server goes quiet', () => {
  let on: RunningRegistry;
  let off: RunningRegistry;

  beforeAll(async () => {
    [on, off] = await Promise.all([startRegistry(undefined), startRegistry(undefined, { env: { REGISTRY_CORE_SERVER__RELEASE_MEMORY_WHEN_IDLE: 'false' } })]);
  });
  afterAll(async () => {
    await Promise.all([on?.stop(), off?.stop()]);
  });

  it('collects after the start until the young generation has shrunk, then not again; with it off it keeps it', async () => {
    // Asked once a second: a request costs the server far less than the 3 % of a core that
    // still counts as quiet.
    const released = await eventually(() => memory(on), (m) => m.releases >= 1 && m.newSpaceBytes <= 4 << 20, { attempts: 40, intervalMs: 1000 });
    expect(released.newSpaceBytes).toBeLessThanOrEqual(4 << 20);
    // The first collection may still see the start's allocations and keep the space; the
    // next, after more quiet seconds, shrinks it (registry/idle-memory.ts).
    expect(released.releases).toBeLessThanOrEqual(2);
    const kept = await memory(off);
    expect(kept.releases).toBe(0);
    expect(kept.newSpaceBytes).toBeGreaterThan(released.newSpaceBytes);
    // Quiet since: no further collection without work in between.
    await new Promise((resolve) => setTimeout(resolve, 8000));
    expect((await memory(on)).releases).toBe(released.releases);
  }, 70_000);
});
