import { isRegistryError } from '@registry-core/api';
import { describe, expect, it } from 'vitest';
import { LoginThrottle } from './login-throttle.js';

describe('LoginThrottle', () => {
  it('lets five failures pass, then doubles the wait, up to 15 minutes', () => {
    let now = 0;
    const throttle = new LoginThrottle(() => now);
    for (let i = 0; i < 5; i++) {
      throttle.check('u', '1.2.3.4');
      throttle.failed('u', '1.2.3.4');
    }
    throttle.check('u', '1.2.3.4');
    throttle.failed('u', '1.2.3.4');
    const retryAfter = () => {
      try {
        throttle.check('u', '9.9.9.9');
        return 0;
      } catch (error) {
        expect(isRegistryError(error) && error.status).toBe(429);
        return Number((error as { headers: Record<string, string> }).headers['Retry-After']);
      }
    };
    expect(retryAfter()).toBe(1);
    now += 1000;
    expect(retryAfter()).toBe(0);
    throttle.failed('u');
    expect(retryAfter()).toBe(2);
    for (let i = 0; i < 20; i++) throttle.failed('u');
    expect(retryAfter()).toBe(15 * 60);
  });

  it('blocks an address across user names, and a success clears both counts', () => {
    let now = 0;
    const throttle = new LoginThrottle(() => now);
    for (let i = 0; i < 6; i++) throttle.failed(`user${i}`, '5.6.7.8');
    expect(() => throttle.check('someone', '5.6.7.8')).toThrow(/this address/);
    expect(() => throttle.check('someone', '5.6.7.9')).not.toThrow();
    now += 60_000;
    throttle.succeeded('user0', '5.6.7.8');
    expect(() => throttle.check('someone', '5.6.7.8')).not.toThrow();
  });
});
