import { describe, expect, it } from 'vitest';
import { NamedLocks } from './named-locks.js';

describe('NamedLocks (the primary lock table of workers on SQLite)', () => {
  const table = () => {
    const granted: string[] = [];
    return { granted, locks: new NamedLocks<string>((owner, id) => granted.push(`${owner}#${id}`)) };
  };

  it('grants one holder per key at a time, in the order asked; other keys do not wait', () => {
    const { granted, locks } = table();
    locks.acquire('w1', 1, 'proxy\nnpm\n/a');
    locks.acquire('w2', 1, 'proxy\nnpm\n/a');
    locks.acquire('w3', 1, 'proxy\nnpm\n/a');
    locks.acquire('w2', 2, 'proxy\nnpm\n/b');
    expect(granted).toEqual(['w1#1', 'w2#2']);
    locks.release('w1', 1);
    expect(granted).toEqual(['w1#1', 'w2#2', 'w2#1']);
    locks.release('w2', 1);
    locks.release('w3', 1);
    locks.release('w2', 2);
    expect(granted).toEqual(['w1#1', 'w2#2', 'w2#1', 'w3#1']);
    expect(locks.size).toBe(0);
  });

  it('releases what a dead worker held and forgets what it waited for', () => {
    const { granted, locks } = table();
    locks.acquire('w1', 1, 'k');
    locks.acquire('w2', 1, 'k');
    locks.acquire('w1', 2, 'j');
    locks.acquire('w2', 2, 'j');
    locks.acquire('w3', 1, 'j');
    locks.releaseAll('w2');
    locks.release('w1', 2);
    // j passes over the dead w2 to w3; k is free again once w1 lets go.
    expect(granted).toEqual(['w1#1', 'w1#2', 'w3#1']);
    locks.release('w1', 1);
    expect(locks.size).toBe(1);
    locks.releaseAll('w1');
    locks.release('w3', 1);
    expect(locks.size).toBe(0);
  });

  it('ignores a release it does not know (twice, or after the owner died)', () => {
    const { granted, locks } = table();
    locks.acquire('w1', 1, 'k');
    locks.release('w1', 1);
    locks.release('w1', 1);
    locks.releaseAll('w9');
    locks.acquire('w2', 1, 'k');
    expect(granted).toEqual(['w1#1', 'w2#1']);
  });
});
