import { describe, expect, it } from 'vitest';
import { UpstreamHealth } from './upstream-health.js';

describe('UpstreamHealth circuit breaker', () => {
  it('opens after the threshold, lets one probe through after the pause, closes on success', () => {
    let now = 1_000;
    const health = new UpstreamHealth(3, 10_000, () => now);
    for (let i = 0; i < 2; i++) {
      expect(health.tryAcquire()).toBe(true);
      health.failed();
    }
    expect(health.state).toBe('closed');
    health.failed();
    expect(health.state).toBe('open');
    expect(health.tryAcquire()).toBe(false);
    expect(health.retryAfterMs()).toBe(10_000);
    now += 10_000;
    expect(health.state).toBe('half-open');
    expect(health.tryAcquire()).toBe(true);
    expect(health.tryAcquire()).toBe(false); // one probe at a time
    health.succeeded();
    expect(health.state).toBe('closed');
    expect(health.snapshot()).toMatchObject({ upstreamErrors: 3, breaker: { state: 'closed', consecutiveFailures: 0 } });
  });

  it('opens again when the probe fails', () => {
    let now = 0;
    const health = new UpstreamHealth(1, 5_000, () => now);
    health.failed();
    now += 5_000;
    expect(health.tryAcquire()).toBe(true);
    health.failed();
    expect(health.state).toBe('open');
    expect(health.snapshot().breaker.openUntil).toBe(new Date(10_000).toISOString());
  });
});
