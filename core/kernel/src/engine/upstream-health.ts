/** State of an upstream as the circuit breaker sees it. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** Counters and breaker state of one proxy repository, for `/-/stats` and `/-/health`. */
export interface ProxyStats {
  readonly hits: number;
  readonly misses: number;
  readonly stale: number;
  readonly negativeHits: number;
  readonly upstreamRequests: number;
  readonly upstreamErrors: number;
  readonly breaker: { readonly state: BreakerState; readonly consecutiveFailures: number; readonly openUntil?: string };
}

/**
 * Counts what a proxy served and decides, like Nexus's auto-blocking, when to stop asking
 * an upstream that keeps failing: after `threshold` consecutive failures the breaker
 * opens for `openMs`, during which no request goes upstream (cached copies are served
 * stale, misses fail fast); then one probe is let through (half-open): success closes the
 * breaker, failure opens it again.
 */
export class UpstreamHealth {
  hits = 0;
  misses = 0;
  stale = 0;
  negativeHits = 0;
  upstreamRequests = 0;
  upstreamErrors = 0;
  private consecutiveFailures = 0;
  private openUntil = 0;
  private probing = false;

  constructor(
    private readonly threshold: number,
    private readonly openMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    if (this.consecutiveFailures < this.threshold) return 'closed';
    return this.now() < this.openUntil ? 'open' : 'half-open';
  }

  /** May a request go upstream now? In half-open state, only one probe at a time. */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.probing) return false;
    this.probing = true;
    return true;
  }

  /** Milliseconds until the breaker lets a probe through. */
  retryAfterMs(): number {
    return Math.max(0, this.openUntil - this.now());
  }

  succeeded(): void {
    this.consecutiveFailures = 0;
    this.probing = false;
  }

  /**
   * After an upstream request threw: a failure of the upstream, unless the registry itself
   * could not send it (no free connection, UPSTREAM_BUSY), which only frees a probe slot.
   */
  verdict(error: unknown): void {
    if ((error as { code?: unknown } | undefined)?.code === 'UPSTREAM_BUSY') this.probing = false;
    else this.failed();
  }

  failed(): void {
    this.upstreamErrors++;
    this.consecutiveFailures++;
    this.probing = false;
    if (this.consecutiveFailures >= this.threshold) this.openUntil = this.now() + this.openMs;
  }

  snapshot(): ProxyStats {
    const state = this.state;
    return {
      hits: this.hits,
      misses: this.misses,
      stale: this.stale,
      negativeHits: this.negativeHits,
      upstreamRequests: this.upstreamRequests,
      upstreamErrors: this.upstreamErrors,
      breaker: {
        state,
        consecutiveFailures: this.consecutiveFailures,
        ...(state !== 'closed' ? { openUntil: new Date(this.openUntil).toISOString() } : {}),
      },
    };
  }
}
