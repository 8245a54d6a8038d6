import { describe, expect, it } from 'vitest';
import { archiveEntryProblem, isSafePathSegment, isSafeRelativePath } from './names.js';

describe('path safety', () => {
  it.each(['..', '.', '', 'a/b', 'a\\b', 'a%2fb', 'nul\u0000', 'x'.repeat(256)])('refuses segment %j', (s) => {
    expect(isSafePathSegment(s)).toBe(false);
  });
  it.each(['a', 'left-pad-1.3.0.tgz', '@scope', 'a..b'])('accepts segment %j', (s) => {
    expect(isSafePathSegment(s)).toBe(true);
  });
  it('checks every segment of a relative path', () => {
    expect(isSafeRelativePath('a/b/c.txt')).toBe(true);
    expect(isSafeRelativePath('/etc/passwd')).toBe(false);
    expect(isSafeRelativePath('a/../b')).toBe(false);
    expect(isSafeRelativePath('a//b')).toBe(false);
  });
  it('says why an archive entry path is unsafe', () => {
    expect(archiveEntryProblem('lib/ok.so')).toBeUndefined();
    expect(archiveEntryProblem('a..b/c')).toBeUndefined();
    expect(archiveEntryProblem('../x')).toMatch(/".." segment/);
    expect(archiveEntryProblem('/etc/x')).toMatch(/absolute/);
    expect(archiveEntryProblem('C:x')).toMatch(/absolute/);
    expect(archiveEntryProblem('a\\b')).toMatch(/backslash/);
    expect(archiveEntryProblem('')).toMatch(/empty/);
  });
});
