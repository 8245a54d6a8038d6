import { TooManyRequestsError } from '@registry-core/api';

/** Failures allowed before backing off. */
const FREE_FAILURES = 5;
/** Longest wait imposed. */
const MAX_BACKOFF_MS = 15 * 60_000;
/** Failures older than this are forgotten. */
const WINDOW_MS = 15 * 60_000;
const MAX_KEYS = 50_000;

interface Counter {
  failures: number;
  last: number;
  blockedUntil: number;
}

/**
 * Brute-force protection for password checks, per user name and per client address:
 * after five failures in a row, each further failure doubles a wait (1 s, 2 s, 4 s, ... up
 * to 15 minutes) during which attempts are refused with 429 and `Retry-After`, without the
 * password being checked at all. A success clears the user's and the address's counts.
 * Per process: several nodes each keep their own counts.
 */
export class LoginThrottle {
  private readonly counters = new Map<string, Counter>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Throw 429 while the user or the address is made to wait. */
  check(user: string, address?: string): void {
    const now = this.now();
    for (const key of this.keys(user, address)) {
      const counter = this.counters.get(key);
      if (counter && counter.blockedUntil > now) {
        throw new TooManyRequestsError(`too many failed logins for ${key.startsWith('user:') ? `user ${user}` : 'this address'}; try again later`, (counter.blockedUntil - now) / 1000);
      }
    }
  }

  failed(user: string, address?: string): void {
    const now = this.now();
    for (const key of this.keys(user, address)) {
      let counter = this.counters.get(key);
      if (!counter || now - counter.last > WINDOW_MS) counter = { failures: 0, last: now, blockedUntil: 0 };
      counter.failures++;
      counter.last = now;
      if (counter.failures > FREE_FAILURES) counter.blockedUntil = now + Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (counter.failures - FREE_FAILURES - 1));
      this.counters.delete(key);
      if (this.counters.size >= MAX_KEYS) this.counters.delete(this.counters.keys().next().value!);
      this.counters.set(key, counter);
    }
  }

  succeeded(user: string, address?: string): void {
    for (const key of this.keys(user, address)) this.counters.delete(key);
  }

  private keys(user: string, address?: string): string[] {
    return address ? [`user:${user}`, `address:${address}`] : [`user:${user}`];
  }
}
