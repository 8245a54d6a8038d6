import { describe, expect, it } from 'vitest';
import type { CacheConfig } from '../config/types.js';
import { KernelProxyCache } from './proxy-cache.js';

// Only the URL checks are exercised: the other collaborators are never touched by allows().
const none = undefined as never;
const cache = { allowedOrigins: ['https://files.example'] } as unknown as CacheConfig;
const proxy = (basePath?: string) => new KernelProxyCache('p', 'https://index.example/repo/simple/', cache, none, none, none, none, undefined, undefined, basePath);

describe('proxy upstream scope', () => {
  it('allows only the configured path by default', () => {
    const p = proxy();
    expect(p.allows('https://index.example/repo/simple/demo/')).toBe(true);
    expect(p.allows('https://index.example/repo/packages/demo/demo-1.0.tar.gz')).toBe(false);
    expect(p.allows('https://files.example/anything')).toBe(true);
    expect(p.allows('https://elsewhere.example/repo/simple/')).toBe(false);
  });

  it("widens to the format's base path on the same origin, never to a path the upstream is not under", () => {
    const p = proxy('/repo/');
    expect(p.allows('https://index.example/repo/packages/demo/demo-1.0.tar.gz')).toBe(true);
    expect(p.allows('https://index.example/other/packages/x')).toBe(false);
    expect(p.allows('https://index.example/repo/simple/../../other/x')).toBe(false);
    // A base path the configured URL is not under is ignored.
    const odd = proxy('/unrelated/');
    expect(odd.allows('https://index.example/unrelated/x')).toBe(false);
    expect(odd.allows('https://index.example/repo/simple/demo/')).toBe(true);
  });
});
