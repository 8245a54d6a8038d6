import v8 from 'node:v8';
import { PerformanceObserver } from 'node:perf_hooks';
import vm from 'node:vm';
import type { Logger } from '@registry-core/api';

/** What the releaser needs of the process (injected by tests). */
export interface IdleMemoryProbe {
  /** CPU time the process has used, in microseconds (every thread: I/O and GC count as work). */
  cpuMicros(): number;
  /** Run a garbage collection: a full one, or one of the young generation alone. */
  collect(kind: 'major' | 'minor'): void;
  /** Bytes of V8's young generation and resident memory, for the log and `/-/stats`. */
  sizes(): { readonly newSpaceBytes: number; readonly rssBytes: number };
}

export interface IdleMemoryStats {
  /** Releases run (one or two full collections each): before the server took traffic, and when it had gone quiet after work. */
  readonly releases: number;
  /** V8's young generation (both semi-spaces) now, in bytes. */
  readonly newSpaceBytes: number;
  readonly rssBytes: number;
}

/** A second with less CPU than this is quiet (3 %). */
const QUIET_MICROS_PER_TICK = 30_000;
/**
 * Quiet seconds in a row before a release: more than the 5 s over which V8 measures the
 * allocation rate, which must be low for a collection to shrink the young generation.
 */
const QUIET_TICKS = 6;
/** CPU the process must have used since the last release for another one (a burst of work). */
const WORK_MICROS = 1_000_000;
const TICK_MS = 1000;
/** A young generation this small is not worth another collection. */
const SMALL_NEW_SPACE = 4 * 1024 * 1024;
/** Further collections after one that left the young generation as large (see {@link IdleMemoryRelease.tick}). */
const RETRIES = 2;
/**
 * Young-generation collections in a row that fill V8's record of allocation rates (its last
 * ten collections) with quiet ones (see {@link IdleMemoryRelease.settle}).
 */
const QUIET_RECORD_COLLECTIONS = 12;
/** The pause between those and the full collection: the quiet time V8 then measures. */
const SETTLE_PAUSE_MS = 150;
/** Rounds {@link IdleMemoryRelease.settle} tries before it gives up. */
const SETTLE_ROUNDS = 3;

/**
 * Gives memory back when the process goes quiet after work, as browsers do in idle time and
 * Node does not. V8 grows its young generation (two semi-spaces, up to 32 MB on 64-bit) under
 * an allocation burst (the start itself, a cold install) and shrinks it only in a full
 * collection that finds the allocation rate low; a server that then idles, or serves replays
 * that allocate little, never runs one and keeps the grown space resident. One full
 * collection once the process has used under 3 % of a core for six seconds (V8 judges the allocation rate over the last five), after it has
 * used at least a second of CPU since the last, lets V8 shrink it (and return free old-space
 * pages). It costs a pause of the collection's length (tens of milliseconds for a heap of
 * this registry's usual size) when nothing is waiting: the process is quiet. Measured with
 * the bench's read load started some seconds after the start: the young generation held at
 * 4 MB instead of 32, the server's peak resident memory 128 MB instead of 150
 * (bench/README.md, "Reading it").
 */
export class IdleMemoryRelease {
  private timer: NodeJS.Timeout | undefined;
  private lastCpu: number;
  private cpuAtRelease = 0;
  private quiet = 0;
  private count = 0;
  /** Collections still to try without new work: the last one did not shrink the young generation. */
  private retries = 0;

  constructor(
    private readonly probe: IdleMemoryProbe,
    private readonly logger?: Logger,
  ) {
    this.lastCpu = probe.cpuMicros();
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One second's look (the timer's; tests call it). Resolves whether it released. */
  tick(): boolean {
    const cpu = this.probe.cpuMicros();
    const used = cpu - this.lastCpu;
    this.lastCpu = cpu;
    this.quiet = used < QUIET_MICROS_PER_TICK ? this.quiet + 1 : 0;
    if (this.quiet < QUIET_TICKS) return false;
    const worked = cpu - this.cpuAtRelease >= WORK_MICROS;
    if (!worked && this.retries === 0) return false;
    this.retries = worked ? RETRIES : this.retries - 1;
    const before = this.probe.sizes();
    const started = performance.now();
    this.probe.collect('major');
    const after = this.probe.sizes();
    this.count++;
    // V8 judges the allocation rate by what it saw between its last collections of each
    // generation: the first collection after a start (the old generation's first since it
    // was loaded) may still see the burst and keep the young generation. One more after
    // further quiet seconds sees only the quiet.
    if (shrank(before, after)) this.retries = 0;
    this.rested();
    this.logger?.debug('released memory while idle', {
      ms: Math.round(performance.now() - started),
      newSpaceBytes: [before.newSpaceBytes, after.newSpaceBytes],
      rssBytes: [before.rssBytes, after.rssBytes],
    });
    return true;
  }

  /**
   * Release now, before the server takes traffic (the CLI's `start`), not after quiet seconds:
   * loading the registry grows the young generation to its 32 MB, and a server whose traffic
   * starts at once is never quiet. V8 records an allocation rate at each collection (the bytes
   * and time since the one before) and judges the rate by its last ten records within five
   * seconds; a full collection shrinks the young generation only when that rate is low. Twelve
   * young-generation collections in a row (a fraction of a millisecond each, the generation
   * being nearly empty after the first) leave only records of nothing allocated; the full
   * collection after a pause of 150 ms then finds a low rate. Up to three rounds (something
   * else may allocate in the pause); resolves whether the young generation shrank (or was
   * small already).
   */
  async settle(pauseMs = SETTLE_PAUSE_MS): Promise<boolean> {
    const first = this.probe.sizes();
    const started = performance.now();
    for (let round = 0; round < SETTLE_ROUNDS; round++) {
      const before = this.probe.sizes();
      if (before.newSpaceBytes <= SMALL_NEW_SPACE) return true;
      // A full collection first: V8 judges the old generation's allocation rate too, by what
      // was promoted since its last full collection (on the first round: all of the start).
      this.probe.collect('major');
      for (let i = 0; i < QUIET_RECORD_COLLECTIONS; i++) this.probe.collect('minor');
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      this.probe.collect('major');
      this.count++;
      const after = this.probe.sizes();
      if (shrank(before, after)) {
        // Released: the quiet seconds that follow call for no other collection.
        this.rested();
        this.retries = 0;
        this.logger?.debug('released memory before taking traffic', {
          ms: Math.round(performance.now() - started),
          rounds: round + 1,
          newSpaceBytes: [first.newSpaceBytes, after.newSpaceBytes],
          rssBytes: [first.rssBytes, after.rssBytes],
        });
        return true;
      }
    }
    this.logger?.debug('V8 kept its young generation after the release before taking traffic', { rounds: SETTLE_ROUNDS, newSpaceBytes: this.probe.sizes().newSpaceBytes });
    return false;
  }

  /** After a release: quiet seconds are counted afresh, and the collections' own CPU is not work that calls for the next one. */
  private rested(): void {
    this.quiet = 0;
    this.lastCpu = this.cpuAtRelease = this.probe.cpuMicros();
  }

  stats(): IdleMemoryStats {
    return { releases: this.count, ...this.probe.sizes() };
  }
}

/** Whether a release left the young generation smaller, or small enough. */
function shrank(before: { readonly newSpaceBytes: number }, after: { readonly newSpaceBytes: number }): boolean {
  return after.newSpaceBytes < before.newSpaceBytes || after.newSpaceBytes <= SMALL_NEW_SPACE;
}

/** The `gc` V8's `--expose-gc` makes: a full collection, or the young generation's alone with `{ type: 'minor' }`. */
type Gc = (options?: { type: 'major' | 'minor' }) => void;

/**
 * V8's collector: `globalThis.gc` when Node was started with `--expose-gc`; otherwise the
 * one a context created while the flag is briefly on gets (the flag is turned off again, so
 * no other code sees a `gc`). Undefined where neither works.
 */
function collector(): ((kind: 'major' | 'minor') => void) | undefined {
  const exposed = (globalThis as { gc?: Gc }).gc;
  if (typeof exposed === 'function') return (kind) => exposed({ type: kind });
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (kind) => (gc as Gc)({ type: kind }) : undefined;
  } catch {
    return undefined;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}

function processProbe(): IdleMemoryProbe | undefined {
  const collect = collector();
  if (!collect) return undefined;
  return {
    cpuMicros: () => {
      const { user, system } = process.cpuUsage();
      return user + system;
    },
    collect,
    sizes: processSizes,
  };
}

/** V8's young generation and the process's resident memory, in bytes. */
function processSizes(): { readonly newSpaceBytes: number; readonly rssBytes: number } {
  return { newSpaceBytes: newSpaceBytes(), rssBytes: process.memoryUsage.rss() };
}

/** V8's young generation (both semi-spaces), in bytes. */
function newSpaceBytes(): number {
  return v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;
}

/** The releaser's counters, or the sizes alone when none runs (for `/-/stats`). */
export function idleMemoryStats(): IdleMemoryStats {
  return shared ? shared.release.stats() : { releases: 0, ...processSizes() };
}

/** The process's one releaser, shared by every registry it runs (tests run several). */
let shared: { release: IdleMemoryRelease; users: number } | undefined;

/** Start (or join) the process's releaser; resolves undefined where V8's collector cannot be had. */
export function startIdleMemoryRelease(logger: Logger): { readonly release: IdleMemoryRelease; stop(): void } | undefined {
  if (!shared) {
    const probe = processProbe();
    if (!probe) {
      logger.warn('cannot release memory when idle: V8 gave no garbage collector to call');
      return undefined;
    }
    shared = { release: new IdleMemoryRelease(probe, logger.child({ component: 'memory' })), users: 0 };
    shared.release.start();
  }
  const entry = shared;
  entry.users++;
  let stopped = false;
  return {
    release: entry.release,
    stop: () => {
      if (stopped) return;
      stopped = true;
      if (--entry.users === 0) {
        entry.release.stop();
        if (shared === entry) shared = undefined;
      }
    },
  };
}

/**
 * How far V8's heap grows past what its last full collection kept before it runs the next
 * (`server.heapGrowthPercent`, set by the CLI's `start` before it builds the registry; 0 gives
 * the choice back to V8). V8 picks the factor after each full collection from how fast it
 * collects against how fast the program allocates, up to a maximum set by the heap limit: 4
 * where the limit is 2 GB or more (Node's default limit is a quarter of the host's memory up
 * to 4 GB, so on any host with 8 GB or more), 1.3 to 2 below. A fast collector and a burst of
 * allocation (a cold install parses and renders a few hundred documents) reach the 4: an old
 * generation that keeps 60 MB grows to 240 MB before its next collection, and that is resident.
 * Measured with a cold and then warm `npm install` of the bench's 453 packages (server peak):
 * - V8's own factor: 310–353 MB in three runs, 27–40 full collections in the two installs;
 * - a fixed factor of 2 (what V8 itself allows a heap limit just under 2 GB): 282–297 MB in
 *   three runs, 12–14 collections; later, with the young generation held at 8 MB
 *   ({@link YoungGenerationCap}) and small files read at their size: 250 and 259 MB, 9–10;
 * - 1.5 (the default) with those: 222 and 231 MB, 18–19 collections (about 0.1 s more CPU);
 * - 1.25: 218 and 224 MB, 33 collections.
 * V8 reads the flag at each collection, so it applies from the next one.
 */
export function setHeapGrowth(percent: number): void {
  v8.setFlagsFromString(`--heap-growing-percent=${Math.max(0, Math.round(percent))}`);
}

/** What {@link YoungGenerationCap} needs of the process (injected by tests). */
export interface YoungGenerationProbe {
  /** Bytes of V8's young generation (both semi-spaces) now. */
  newSpaceBytes(): number;
  /** Call `check` after each garbage collection, until the returned function is called. */
  afterCollections(check: () => void): () => void;
  /** The factor V8 multiplies the young generation by when it grows it (V8's default: 2; 1: it stays). */
  setGrowthFactor(factor: 1 | 2): void;
}

/**
 * Stops V8's young generation growing past `maxBytes` (`server.youngGenerationSize`, set by
 * the CLI's `start` before it builds the registry). V8 starts it at 1 MB per semi-space and
 * doubles it when many objects survive its collections (the start's module loading, a cold
 * install's parses) up to 16 MB per semi-space, 32 MB in all, all of it resident; it shrinks
 * it again only in a full collection that finds the allocation rate low. The limit is a flag
 * of the `node` command (`--max-semi-space-size`), which a running server cannot set; the
 * factor it doubles by (`--semi-space-growth-factor`) is read at each growth: after every
 * collection that left the young generation at the cap or over it, growth is set to 1 (it
 * stays), and back to V8's 2 once a collection has shrunk it below (the idle release).
 * Collections are reported after they ran, so a growth in a run of collections that no
 * report separates (a long synchronous task) can pass the cap once; the next report stops it there.
 * A young generation of 8 MB instead of 32 costs more young collections (each of what
 * survived, little in a server): measured with the bench's cold and then warm `npm install`,
 * the server's peak 243–251 MB in four runs against 269–284 MB, the young collections taking
 * about 1.5 s of CPU in all instead of 1.0 s.
 */
export class YoungGenerationCap {
  private growing = true;
  private unobserve: (() => void) | undefined;

  constructor(
    private readonly maxBytes: number,
    private readonly probe: YoungGenerationProbe = processYoungGeneration,
  ) {}

  start(): this {
    if (this.maxBytes > 0 && !this.unobserve) {
      this.unobserve = this.probe.afterCollections(() => this.check());
      this.check();
    }
    return this;
  }

  stop(): void {
    this.unobserve?.();
    this.unobserve = undefined;
    if (!this.growing) this.probe.setGrowthFactor(2);
    this.growing = true;
  }

  private check(): void {
    const grow = this.probe.newSpaceBytes() < this.maxBytes;
    if (grow === this.growing) return;
    this.growing = grow;
    this.probe.setGrowthFactor(grow ? 2 : 1);
  }
}

const processYoungGeneration: YoungGenerationProbe = {
  // After every collection: the young generation alone (the resident memory is a read of /proc).
  newSpaceBytes,
  afterCollections(check) {
    const observer = new PerformanceObserver(check);
    observer.observe({ entryTypes: ['gc'] });
    return () => observer.disconnect();
  },
  setGrowthFactor: (factor) => v8.setFlagsFromString(`--semi-space-growth-factor=${factor}`),
};

/** The process's cap, set once by `start` (see {@link YoungGenerationCap}); 0 removes it. */
let youngGenerationCap: YoungGenerationCap | undefined;

export function capYoungGeneration(maxBytes: number): void {
  youngGenerationCap?.stop();
  youngGenerationCap = maxBytes > 0 ? new YoungGenerationCap(maxBytes).start() : undefined;
}
