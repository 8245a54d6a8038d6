// server.releaseMemoryWhenIdle in a running registry: the zero-config default, whose start
// grows V8's young generation, gives it back before it takes traffic (the CLI's start:
// IdleMemoryRelease.settle); the same registry with the release off keeps it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

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

  it('has shrunk the young generation by the time it listens, and collects no more while quiet; with it off it keeps it', async () => {
    const released = await memory(on);
    expect(released.releases).toBeGreaterThanOrEqual(1);
    expect(released.releases).toBeLessThanOrEqual(3);
    expect(released.newSpaceBytes).toBeLessThanOrEqual(4 << 20);
    const kept = await memory(off);
    expect(kept.releases).toBe(0);
    expect(kept.newSpaceBytes).toBeGreaterThan(released.newSpaceBytes);
    // Quiet since (the start's work was released): no further collection without work in between.
    await new Promise((resolve) => setTimeout(resolve, 8000));
    expect((await memory(on)).releases).toBe(released.releases);
  }, 30_000);
});
