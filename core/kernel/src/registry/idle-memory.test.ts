import { describe, expect, it } from 'vitest';
import { IdleMemoryRelease, YoungGenerationCap, type YoungGenerationProbe } from './idle-memory.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

/** A process whose CPU clock the test moves: each tick() is one second. */
function fakeProcess(shrinksFrom = 1) {
  let cpu = 0;
  let collections = 0;
  let newSpace = 32 << 20;
  return {
    probe: {
      cpuMicros: () => cpu,
      collect: (kind: 'major' | 'minor') => {
        if (kind === 'minor') return;
        collections++;
        cpu += 40_000; // the collection's own CPU
        // As V8: a collection shrinks the young generation only once the allocation rate it
        // has seen is low (here: from the `shrinksFrom`th collection on).
        if (collections >= shrinksFrom) newSpace = 1 << 20;
      },
      sizes: () => ({ newSpaceBytes: newSpace, rssBytes: 2 }),
      grow: () => (newSpace = 32 << 20),
    },
    work: (micros: number) => (cpu += micros),
    get collections() {
      return collections;
    },
  };
}

describe('idle memory release', () => {
  it('collects once the process has been quiet for six seconds after a burst of work, and not again until more work', () => {
    const p = fakeProcess();
    const release = new IdleMemoryRelease(p.probe, quiet);
    // The start: 1.5 s of CPU, then quiet.
    p.work(1_500_000);
    expect(release.tick()).toBe(false); // the busy second
    for (let i = 0; i < 5; i++) expect(release.tick()).toBe(false); // five quiet seconds
    expect(release.tick()).toBe(true); // six: released
    expect(p.collections).toBe(1);
    // Quiet for a minute: nothing more to give back.
    for (let i = 0; i < 60; i++) expect(release.tick()).toBe(false);
    // Light load (2 % of a core, 20 ms a second) for a minute: quiet seconds, but not a
    // second of CPU in all since the last release until the 50th (then six quiet seconds more).
    let released = 0;
    p.probe.grow();
    for (let i = 0; i < 60; i++) {
      p.work(20_000);
      if (release.tick()) released++;
    }
    expect(released).toBe(1);
    expect(release.stats().releases).toBe(2);
  });

  it('never collects while the process stays busy', () => {
    const p = fakeProcess();
    const release = new IdleMemoryRelease(p.probe, quiet);
    for (let i = 0; i < 120; i++) {
      p.work(i % 2 === 0 ? 500_000 : 40_000); // every other second busy, the others just over quiet
      expect(release.tick()).toBe(false);
    }
    expect(p.collections).toBe(0);
  });

  it('tries again after more quiet seconds when a collection left the young generation as large, twice at most', () => {
    const p = fakeProcess(2);
    const release = new IdleMemoryRelease(p.probe, quiet);
    p.work(1_500_000);
    const ticks: number[] = [];
    for (let i = 1; i <= 40; i++) if (release.tick()) ticks.push(i);
    // The first after six quiet seconds did not shrink it; the next, six seconds later, did; then no more.
    expect(ticks).toEqual([7, 13]);
    expect(p.probe.sizes().newSpaceBytes).toBe(1 << 20);

    const never = fakeProcess(Number.POSITIVE_INFINITY);
    const stubborn = new IdleMemoryRelease(never.probe, quiet);
    never.work(1_500_000);
    let count = 0;
    for (let i = 0; i < 120; i++) if (stubborn.tick()) count++;
    expect(count).toBe(3);
  });

  describe('settle (before the server takes traffic)', () => {
    /**
     * As V8: a full collection shrinks the young generation only when its record of
     * allocation rates is quiet: at least ten young-generation collections since the last full
     * one, and not the first full collection (whose record still holds the whole start).
     */
    function v8Like(shrinks = true) {
      const calls: string[] = [];
      let newSpace = 32 << 20;
      let minorsSinceMajor = 0;
      let majors = 0;
      let cpu = 1_500_000;
      return {
        calls,
        probe: {
          cpuMicros: () => cpu,
          collect: (kind: 'major' | 'minor') => {
            calls.push(kind);
            cpu += kind === 'major' ? 30_000 : 500;
            if (kind === 'minor') return void minorsSinceMajor++;
            if (shrinks && majors > 0 && minorsSinceMajor >= 10) newSpace = 1 << 20;
            majors++;
            minorsSinceMajor = 0;
          },
          sizes: () => ({ newSpaceBytes: newSpace, rssBytes: 2 }),
        },
      };
    }

    it('shrinks the young generation in one round (a full collection, twelve young ones, a pause, a full one), and the quiet seconds after call for none', async () => {
      const v8 = v8Like();
      const release = new IdleMemoryRelease(v8.probe, quiet);
      expect(await release.settle(1)).toBe(true);
      expect(v8.calls).toEqual(['major', ...Array<string>(12).fill('minor'), 'major']);
      expect(v8.probe.sizes().newSpaceBytes).toBe(1 << 20);
      expect(release.stats().releases).toBe(1);
      // The start's CPU was released: quiet seconds after it do not collect again.
      for (let i = 0; i < 20; i++) expect(release.tick()).toBe(false);
    });

    it('does nothing when the young generation is small already', async () => {
      const v8 = v8Like();
      const release = new IdleMemoryRelease(v8.probe, quiet);
      await release.settle(1);
      v8.calls.length = 0;
      expect(await release.settle(1)).toBe(true);
      expect(v8.calls).toEqual([]);
    });

    it('gives up after three rounds when V8 keeps the young generation', async () => {
      const v8 = v8Like(false);
      const release = new IdleMemoryRelease(v8.probe, quiet);
      expect(await release.settle(1)).toBe(false);
      expect(v8.calls.filter((kind) => kind === 'major')).toHaveLength(6);
      expect(v8.probe.sizes().newSpaceBytes).toBe(32 << 20);
    });
  });
});

/** A young generation that doubles at each collection by the factor set, up to V8's 32 MB. */
function fakeYoungGeneration() {
  let newSpace = 2 << 20;
  let factor = 2;
  let check: (() => void) | undefined;
  const factors: number[] = [];
  const probe: YoungGenerationProbe = {
    newSpaceBytes: () => newSpace,
    afterCollections(c) {
      check = c;
      return () => (check = undefined);
    },
    setGrowthFactor(f) {
      factor = f;
      factors.push(f);
    },
  };
  return {
    probe,
    factors,
    /** A collection that grows the space (a burst of surviving objects), then its report. */
    grow: () => {
      newSpace = Math.min(32 << 20, newSpace * factor);
      check?.();
    },
    /** A full collection that shrinks it to its first size (the idle release), then its report. */
    shrink: () => {
      newSpace = 2 << 20;
      check?.();
    },
    size: () => newSpace,
    observed: () => check !== undefined,
  };
}

describe('YoungGenerationCap', () => {
  it('stops the growth at the cap, lets it grow again after a shrink, and gives V8 its factor back when stopped', () => {
    const young = fakeYoungGeneration();
    const cap = new YoungGenerationCap(8 << 20, young.probe).start();
    for (let i = 0; i < 6; i++) young.grow();
    expect(young.size()).toBe(8 << 20);
    expect(young.factors).toEqual([1]);
    young.shrink();
    expect(young.factors).toEqual([1, 2]);
    for (let i = 0; i < 6; i++) young.grow();
    expect(young.size()).toBe(8 << 20);
    cap.stop();
    expect(young.factors).toEqual([1, 2, 1, 2]);
    expect(young.observed()).toBe(false);
    for (let i = 0; i < 3; i++) young.grow();
    expect(young.size()).toBe(32 << 20);
  });

  it('does nothing with 0 (V8 grows it to its own maximum)', () => {
    const young = fakeYoungGeneration();
    new YoungGenerationCap(0, young.probe).start();
    for (let i = 0; i < 6; i++) young.grow();
    expect(young.size()).toBe(32 << 20);
    expect(young.factors).toEqual([]);
    expect(young.observed()).toBe(false);
  });
});
