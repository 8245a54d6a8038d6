/**
 * Cooperative work on the event loop: a loop over the versions of a huge document (tens of
 * thousands of them) must not hold every other request for hundreds of milliseconds. The
 * work runs in slices of a few milliseconds with a `setImmediate` turn between them, so
 * I/O and other requests' callbacks run in between.
 */

/** Default milliseconds of work between two yields. */
export const DEFAULT_YIELD_BUDGET_MS = 4;

/** Options of {@link yielder} and {@link forEachYielding}. */
export interface YieldOptions {
  /** Milliseconds of work between two yields. Default {@link DEFAULT_YIELD_BUDGET_MS}; 0 yields at every check. */
  readonly budgetMs?: number;
  /** Called at every yield (a host counts them). */
  readonly onYield?: () => void;
}

/** One turn of the event loop: what is waiting (I/O, timers, other requests) runs first. */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A checkpoint for a long computation: `await pause()` resolves at once while less than
 * the budget has been worked since the last yield, else after one event-loop turn.
 * `pause.due()` says whether the next `pause()` would yield (to skip the `await` in hot loops).
 */
export interface Yielder {
  (): Promise<void>;
  due(): boolean;
}

/** A {@link Yielder}; its budget starts now. */
export function yielder(options: YieldOptions = {}): Yielder {
  const budgetMs = options.budgetMs ?? DEFAULT_YIELD_BUDGET_MS;
  let last = performance.now();
  const due = (): boolean => performance.now() - last >= budgetMs;
  const pause = async (): Promise<void> => {
    if (!due()) return;
    options.onYield?.();
    await yieldToEventLoop();
    last = performance.now();
  };
  return Object.assign(pause, { due });
}

/**
 * `for (const item of items) fn(item, index)`, yielding to the event loop whenever the
 * budget is spent (checked every few items: `fn` is expected to be short). `items` is
 * read as it is when called (an array is not copied: do not add to it from `fn`).
 */
export async function forEachYielding<T>(items: Iterable<T>, fn: (item: T, index: number) => void, options: YieldOptions = {}): Promise<void> {
  const pause = yielder(options);
  let index = 0;
  for (const item of items) {
    fn(item, index);
    // performance.now() is cheap but not free: look at the clock every 16 items.
    if ((++index & 15) === 0 && pause.due()) await pause();
  }
}

/** The own enumerable string keys of `record`, each with its value, in `Object.keys` order: {@link forEachYielding} over `Object.entries`. */
export function forEachEntryYielding<V>(record: Readonly<Record<string, V>>, fn: (key: string, value: V, index: number) => void, options: YieldOptions = {}): Promise<void> {
  return forEachYielding(Object.keys(record), (key, index) => fn(key, record[key]!, index), options);
}
