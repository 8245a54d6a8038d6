import { RegistryError } from '@registry-core/api';

/** Most requests that may wait for one limit's slot; further ones are refused at once. */
export const MAX_WAITING = 1024;

/**
 * 503 UPSTREAM_BUSY: no upstream connection could be had in time (the limits of
 * `cache.maxUpstreamConnections` / `server.maxUpstreamConnections` were taken). The
 * registry's own congestion, not the upstream's failure: it never opens the breaker.
 */
export class UpstreamBusyError extends RegistryError {
  constructor(message: string) {
    super('UPSTREAM_BUSY', message, 503, { headers: { 'Retry-After': '1' } });
  }
}

/**
 * A counting semaphore for upstream connections: at most `limit` held at once; further
 * callers wait in order, at most {@link MAX_WAITING} of them and each at most the time it
 * asks for, and are refused with {@link UpstreamBusyError} beyond either bound.
 */
export class ConnectionSlots {
  private held = 0;
  private readonly waiting: { grant: () => void; timer: NodeJS.Timeout }[] = [];

  constructor(
    readonly limit: number,
    /** What the limit is, for messages (the config key). */
    private readonly name: string,
  ) {}

  /** Slots in use now. */
  get inUse(): number {
    return this.held;
  }

  /** A slot, as the function that gives it back (idempotent). */
  acquire(waitMs: number): Promise<() => void> {
    if (this.held < this.limit && this.waiting.length === 0) return Promise.resolve(this.grant());
    if (this.waiting.length >= MAX_WAITING) {
      return Promise.reject(new UpstreamBusyError(`${this.held} upstream connections are open and ${this.waiting.length} requests wait for one (${this.name} ${this.limit})`));
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => resolve(this.grant()),
        timer: setTimeout(() => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(new UpstreamBusyError(`no upstream connection became free within ${waitMs} ms (${this.name} ${this.limit})`));
        }, waitMs),
      };
      this.waiting.push(entry);
    });
  }

  private grant(): () => void {
    this.held++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held--;
      const next = this.waiting.shift();
      if (next) {
        clearTimeout(next.timer);
        next.grant();
      }
    };
  }
}

/** Both slots an upstream exchange takes: its origin's (of one proxy), then the registry-wide one. */
export async function acquireBoth(origin: ConnectionSlots, global: ConnectionSlots | undefined, waitMs: number): Promise<() => void> {
  const started = Date.now();
  const releaseOrigin = await origin.acquire(waitMs);
  if (!global) return releaseOrigin;
  try {
    const releaseGlobal = await global.acquire(Math.max(1, waitMs - (Date.now() - started)));
    return () => {
      releaseGlobal();
      releaseOrigin();
    };
  } catch (error) {
    releaseOrigin();
    throw error;
  }
}
