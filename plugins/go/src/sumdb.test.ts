import { describe, expect, it } from 'vitest';
import { parseSumdbRequest } from './sumdb.js';

const status = (path: string) => {
  try {
    parseSumdbRequest(path);
    return 200;
  } catch (error) {
    return (error as { status: number }).status;
  }
};

describe('checksum database paths', () => {
  it('takes the paths the go command asks, tiles as immutable content and the rest as metadata', () => {
    expect(parseSumdbRequest('/sumdb/sum.golang.org/supported')).toEqual({ name: 'sum.golang.org', rest: 'supported', kind: 'metadata' });
    expect(parseSumdbRequest('/sumdb/sum.golang.org/latest').kind).toBe('metadata');
    expect(parseSumdbRequest('/sumdb/sum.golang.org/lookup/github.com/!azure/x@v1.0.0-!r!c1').kind).toBe('metadata');
    expect(parseSumdbRequest('/sumdb/sum.golang.org/lookup/example.com/%21x/y@v1.0.0')).toEqual({ name: 'sum.golang.org', rest: 'lookup/example.com/!x/y@v1.0.0', kind: 'metadata' });
    expect(parseSumdbRequest('/sumdb/sum.golang.org/tile/8/0/x123/456').kind).toBe('content');
    expect(parseSumdbRequest('/sumdb/sum.golang.org/tile/8/1/000.p/17').kind).toBe('content');
    expect(parseSumdbRequest('/sumdb/sum.golang.org/tile/8/data/x001/234.p/5').kind).toBe('content');
  });

  it('refuses what no checksum database path is', () => {
    expect(status('/sumdb/sum.golang.org/')).toBe(404);
    expect(status('/sumdb/sum.golang.org/tile/8/0/12')).toBe(404);
    expect(status('/sumdb/sum.golang.org/tile/8/0/000.p/0')).toBe(404);
    expect(status('/sumdb/sum.golang.org/other')).toBe(404);
    expect(status('/sumdb/sum.golang.org/tile/8/0/000.p/256')).toBe(400);
    expect(status('/sumdb/Sum.golang.org/supported')).toBe(400);
    expect(status('/sumdb/localhost/supported')).toBe(400);
    expect(status('/sumdb/sum.golang.org/lookup/example.com/x')).toBe(400);
    expect(status('/sumdb/sum.golang.org/lookup/example.com/X@v1.0.0')).toBe(400);
    expect(status('/sumdb/sum.golang.org/lookup/example.com/x@v1.0.0-RC1')).toBe(400);
    expect(status('/sumdb/sum.golang.org/lookup/example.com/x@master')).toBe(400);
    expect(status('/sumdb/sum.golang.org/lookup/example.com/..%2fx@v1.0.0')).toBe(400);
  });
});
